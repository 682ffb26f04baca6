/**
 * The admission webhook over real HTTPS: a self-signed certificate made with openssl, a real
 * node:https client that trusts only that certificate, and the server as cluster mode wires it.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { type AdmissionServer, createAdmissionServer } from '../../../src/admission/server.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ingress, ingressClass, service, svc, TEST_OPTIONS } from '../../support/builders.js';
import { modelOf, reviewOf, storeOf } from '../../unit/admission/fixtures.js';
import { type Cert, makeCert, writeSecretVolume } from './tls.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

function post(
  port: number,
  ca: string,
  path: string,
  body: string | Buffer,
  method = 'POST',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // agent: false → a new TLS handshake per request, so certificate rotation is observable.
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

interface ReviewAnswer {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: { readonly code: number; readonly message: string };
    readonly warnings?: readonly string[];
  };
}

const T1 = '2024-01-01T00:00:00Z';
const owner = ingress('owner')
  .created(T1)
  .cls('portico')
  .host('a.example')
  .prefix('/', svc('web', 80))
  .build();

describe('admission webhook over HTTPS', () => {
  let dir: string;
  let certA: Cert;
  /** The certificate the server should be presenting now. */
  let current: Cert;
  let server: AdmissionServer;
  let port: number;
  const metrics = new PorticoMetrics({ processMetrics: false });
  const logs: Record<string, unknown>[] = [];
  const store = storeOf([ingressClass('portico').build(), service('web').port(80).build(), owner]);
  let model: RoutingModel | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portico-admission-'));
    certA = makeCert(join(dir, 'gen'), 'portico-admission-a');
    writeSecretVolume(join(dir, 'certs'), certA);
    current = certA;
    const logger = pino(
      { level: 'debug' },
      {
        write(line: string) {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    );
    server = createAdmissionServer({
      listen: { host: '127.0.0.1', port: 0 },
      certDir: join(dir, 'certs'),
      logger,
      metrics,
      translate: TEST_OPTIONS,
      store,
      currentModel: () => model,
      certPollIntervalMs: 60_000,
    });
    ({ port } = await server.start());
    server.onModel(modelOf(store));
  });

  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid Ingress is allowed and the uid is echoed, on both paths', async () => {
    for (const path of ['/validate', '/networking/v1/ingresses']) {
      const review = reviewOf({
        uid: `uid-${path}`,
        object: ingress('new').cls('portico').host('b.example').prefix('/', svc('web', 80)).build(),
      });
      const res = await post(port, certA.cert, path, JSON.stringify(review));
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      const answer = JSON.parse(res.body) as ReviewAnswer;
      assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
      assert.equal(answer.kind, 'AdmissionReview');
      assert.deepEqual(answer.response, { uid: `uid-${path}`, allowed: true });
    }
  });

  test('a colliding Ingress is denied with a status naming the owner, and the denial is logged', async () => {
    const review = reviewOf({
      uid: 'deny-1',
      object: ingress('thief').cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
    });
    const res = await post(port, certA.cert, '/networking/v1/ingresses', JSON.stringify(review));
    assert.equal(res.status, 200);
    const { response } = JSON.parse(res.body) as ReviewAnswer;
    assert.equal(response.uid, 'deny-1');
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.match(response.status?.message ?? '', /already defined by Ingress default\/owner/);
    const line = logs.find((l) => l['msg'] === 'admission: denied' && l['uid'] === 'deny-1');
    assert.ok(line, 'denial logged');
    assert.equal(line['object'], 'Ingress default/thief');
    assert.match(String(line['reason']), /default\/owner/);
  });

  test('a missing Service comes back as a warning', async () => {
    const review = reviewOf({
      object: ingress('new').cls('portico').host('c.example').prefix('/', svc('absent', 80)).build(),
    });
    const res = await post(port, certA.cert, '/validate', JSON.stringify(review));
    const { response } = JSON.parse(res.body) as ReviewAnswer;
    assert.equal(response.allowed, true);
    assert.equal(response.warnings?.length, 1);
    assert.match(response.warnings?.[0] ?? '', /service "default\/absent" not found/);
  });

  const badRequests = [
    { name: 'a body that is not JSON', body: '{"kind": "AdmissionRev', want: /body is not JSON/ },
    {
      name: 'a review of the wrong kind',
      body: JSON.stringify({ ...reviewOf({}), kind: 'Status' }),
      want: /kind "Status"/,
    },
    { name: 'an empty body', body: '', want: /body is not JSON/ },
  ] as const;
  for (const c of badRequests) {
    test(`${c.name} is answered 400 with a clear message`, async () => {
      const res = await post(port, certA.cert, '/validate', c.body);
      assert.equal(res.status, 400);
      assert.match(res.body, c.want);
    });
  }

  test('GET is 405 and an unknown path is 404', async () => {
    const get = await post(port, certA.cert, '/validate', '', 'GET');
    assert.equal(get.status, 405);
    assert.equal(get.headers['allow'], 'POST');
    const nowhere = await post(port, certA.cert, '/mutate', '{}');
    assert.equal(nowhere.status, 404);
  });

  test('a body over the limit is refused with 413 and the server keeps serving', async () => {
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
    const res = await post(port, certA.cert, '/validate', huge).catch((err: unknown) => err);
    // The server may reset while the client is still sending; either way it must survive.
    if (!(res instanceof Error)) assert.equal((res as Answer).status, 413);
    const ok = await post(port, certA.cert, '/validate', JSON.stringify(reviewOf({ operation: 'DELETE' })));
    assert.equal(ok.status, 200);
  });

  test('portico_admission_reviews_total counts allowed, denied and error', async () => {
    const text = await metrics.render();
    const value = (result: string): number => {
      const m = new RegExp(`^portico_admission_reviews_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
        text,
      );
      return Number(m?.[1] ?? 0);
    };
    assert.ok(value('allowed') >= 3, text);
    assert.ok(value('denied') >= 1, text);
    assert.ok(value('error') >= 3, text);
  });

  test('a rotated certificate (Secret volume ..data swap) is served without a restart', async () => {
    const before = await post(
      port,
      certA.cert,
      '/validate',
      JSON.stringify(reviewOf({ operation: 'DELETE' })),
    );
    assert.equal(before.fingerprint, fingerprintOf(certA.cert));
    const certB = makeCert(join(dir, 'gen'), 'portico-admission-b');
    writeSecretVolume(join(dir, 'certs'), certB);
    const want = fingerprintOf(certB.cert);
    const deadline = Date.now() + 5_000;
    let seen = '';
    while (Date.now() < deadline) {
      // Trust both while rotating; the presented fingerprint says which one is served.
      const res = await post(
        port,
        `${certA.cert}\n${certB.cert}`,
        '/validate',
        JSON.stringify(reviewOf({ operation: 'DELETE' })),
      );
      seen = res.fingerprint;
      if (seen === want) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen, want);
    current = certB;
    assert.ok(logs.some((l) => l['msg'] === 'admission: serving certificate reloaded'));
  });

  test('a broken certificate keeps the current one in service', async () => {
    const gen = join(dir, 'gen');
    const garbage: Cert = {
      cert: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n',
      key: makeCert(gen, 'portico-admission-c').key,
    };
    writeSecretVolume(join(dir, 'certs'), garbage);
    const deadline = Date.now() + 5_000;
    const message = 'admission: cannot load certificate; keeping the current one';
    while (Date.now() < deadline && !logs.some((l) => l['msg'] === message)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(logs.some((l) => l['msg'] === message));
    const res = await post(
      port,
      current.cert,
      '/validate',
      JSON.stringify(reviewOf({ operation: 'DELETE' })),
    );
    assert.equal(res.status, 200);
    assert.equal(res.fingerprint, new X509Certificate(current.cert).fingerprint256);
  });
});

describe('admission webhook start-up', () => {
  test('start fails clearly when the certificate folder is empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-admission-empty-'));
    try {
      const server = createAdmissionServer({
        listen: { host: '127.0.0.1', port: 0 },
        certDir: dir,
        logger: pino({ level: 'silent' }),
        metrics: new PorticoMetrics({ processMetrics: false }),
        translate: TEST_OPTIONS,
        store: storeOf([]),
        currentModel: () => undefined,
      });
      await assert.rejects(server.start(), /tls\.crt/);
      await server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
