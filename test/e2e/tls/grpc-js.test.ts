/**
 * gRPC end to end with a real grpc-js client: client ⇄ Portico over HTTP/2 with TLS (ALPN h2 on
 * the HTTPS listener) ⇄ grpc-js servers over GRPC (h2c) and GRPCS (h2 over TLS).
 *
 * PENDING: this file is not named `*.test.ts` because it needs the HTTPS listener to negotiate
 * ALPN `h2` (grpc-js speaks nothing else), which lands from the HTTP/2 listener branch. Once that
 * is merged, rename it to `grpc-js.test.ts`; it then runs with the rest of test/e2e.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { KubeObject, Secret } from '../../../src/model/objects.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';
import { ECHO_SERVICE, type EchoReply, type GrpcBackend, startGrpcBackend } from '../../support/grpc.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { yamlOf } from '../portico/helpers.js';

const A = 'nginx.ingress.kubernetes.io/';

function caSecret(name: string, pem: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type: 'Opaque',
    data: { 'ca.crt': Buffer.from(pem).toString('base64') },
  };
}

describe('gRPC through Portico with grpc-js (HTTP/2 on both legs)', () => {
  const frontCert = makeCertificate('grpc.test', { sans: ['grpc.test', 'grpcs.test'] });
  const backendCert = makeCertificate('grpcs.default.svc');
  let plain: GrpcBackend;
  let secure: GrpcBackend;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    plain = await startGrpcBackend();
    secure = await startGrpcBackend(backendCert);
    const services: KubeObject[] = [
      ...echoService('grpc', { port: 50051, targetPort: plain.port }),
      ...echoService('grpcs', { port: 50052, targetPort: secure.port }),
    ];
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...services),
      'ingresses.yaml': yamlOf(
        ingress('grpc')
          .cls('portico')
          .annotate(`${A}backend-protocol`, 'GRPC')
          .host('grpc.test')
          .prefix('/', svc('grpc', 50051))
          .tls('front', 'grpc.test')
          .build(),
        ingress('grpcs')
          .cls('portico')
          .annotate(`${A}backend-protocol`, 'GRPCS')
          .annotate(`${A}proxy-ssl-verify`, 'on')
          .annotate(`${A}proxy-ssl-secret`, 'grpcs-ca')
          .host('grpcs.test')
          .prefix('/', svc('grpcs', 50052))
          .tls('front', 'grpcs.test')
          .build(),
      ),
      'secrets.yaml': yamlOf(tlsSecret('front', frontCert), caSecret('grpcs-ca', backendCert.cert)),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await Promise.all([plain?.close(), secure?.close()]);
    await dir?.cleanup();
  });

  for (const host of ['grpc.test', 'grpcs.test']) {
    test(`${host}: unary, server streaming and NOT_FOUND with its message`, async () => {
      const client = new grpc.Client(
        `127.0.0.1:${portico.httpsPort}`,
        grpc.credentials.createSsl(Buffer.from(frontCert.cert)),
        { 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host },
      );
      const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + 5_000 });
      try {
        const reply = await new Promise<EchoReply | undefined>((resolve, reject) => {
          client.makeUnaryRequest(
            '/test.Echo/Unary',
            ECHO_SERVICE.unary.requestSerialize,
            ECHO_SERVICE.unary.responseDeserialize,
            { text: 'hi' },
            new grpc.Metadata(),
            deadline(),
            (err, value) => (err ? reject(err) : resolve(value)),
          );
        });
        assert.deepEqual(reply, { text: 'hi', authority: host });

        const messages: EchoReply[] = [];
        await new Promise<void>((resolve, reject) => {
          const call = client.makeServerStreamRequest(
            '/test.Echo/Stream',
            ECHO_SERVICE.stream.requestSerialize,
            ECHO_SERVICE.stream.responseDeserialize,
            { text: 's', count: 5 },
            new grpc.Metadata(),
            deadline(),
          );
          call.on('data', (m: EchoReply) => messages.push(m));
          call.on('error', reject);
          call.on('end', resolve);
        });
        assert.deepEqual(
          messages.map((m) => m.index),
          [0, 1, 2, 3, 4],
        );

        const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
          client.makeUnaryRequest(
            '/test.Echo/Unary',
            ECHO_SERVICE.unary.requestSerialize,
            ECHO_SERVICE.unary.responseDeserialize,
            { text: 'missing' },
            new grpc.Metadata(),
            deadline(),
            (e) => (e ? resolve(e) : reject(new Error('expected NOT_FOUND'))),
          );
        });
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.equal(err.details, 'no such thing');
      } finally {
        client.close();
      }
    });
  }
});
