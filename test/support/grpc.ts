/**
 * `grpc` is a real grpc-js echo server for backend-protocol tests, defined without proto files:
 * messages are JSON in gRPC's length-prefixed frames. `Unary` echoes (or fails NOT_FOUND for
 * `text: "missing"`), `Stream` sends `count` messages.
 */
import * as grpc from '@grpc/grpc-js';
import type { TestCertificate } from './certs.js';

export interface EchoRequest {
  readonly text: string;
  readonly count?: number;
}

export interface EchoReply {
  readonly text: string;
  readonly index?: number;
  /** The `:authority` the server saw. */
  readonly authority?: string;
}

const serialize = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8'));

function method(path: string, responseStream: boolean): grpc.MethodDefinition<EchoRequest, EchoReply> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize as (bytes: Buffer) => EchoRequest,
    responseSerialize: serialize,
    responseDeserialize: deserialize as (bytes: Buffer) => EchoReply,
  };
}

export const ECHO_SERVICE = {
  unary: method('/test.Echo/Unary', false),
  stream: method('/test.Echo/Stream', true),
} as const;

/** `frame` wraps one JSON message in gRPC's 5-byte length prefix (uncompressed). */
export function frame(message: unknown): Buffer {
  const body = serialize(message);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** `unframe` splits a gRPC body into its JSON messages. */
export function unframe(bytes: Buffer): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  while (at + 5 <= bytes.length) {
    const length = bytes.readUInt32BE(at + 1);
    out.push(deserialize(bytes.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
  }
  return out;
}

export interface GrpcBackend {
  readonly port: number;
  close(): Promise<void>;
}

/** `startGrpcBackend` listens on 127.0.0.1:0, in cleartext or (given a certificate) TLS. */
export async function startGrpcBackend(certificate?: TestCertificate): Promise<GrpcBackend> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      if (call.request.text === 'missing') {
        callback({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
        return;
      }
      const authority = call.metadata.get(':authority')[0] ?? call.getHost();
      callback(null, { text: call.request.text, authority: String(authority) });
    },
    stream: (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      for (let i = 0; i < (call.request.count ?? 1); i++) call.write({ text: call.request.text, index: i });
      call.end();
    },
  });
  const credentials =
    certificate === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(null, [
          { private_key: Buffer.from(certificate.key), cert_chain: Buffer.from(certificate.cert) },
        ]);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }),
  };
}
