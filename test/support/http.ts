/**
 * `http` is a tiny HTTP/1.1 client for e2e tests: a fresh connection per request (no shared
 * agent, so tests never leak keep-alive sockets into each other) and an optional local address,
 * so one machine can play several clients (127.0.0.2 trusted proxy, 127.0.0.3 stranger).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer | Readable;
  readonly localAddress?: string;
  readonly host?: string;
  /** Abort after this long (default 30 s) so a test never hangs. */
  readonly timeoutMs?: number;
  /** Count body bytes without keeping them (big downloads). */
  readonly discardBody?: boolean;
}

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly bodyBytes: number;
  text(): string;
  json<T = unknown>(): T;
}

/** `request` sends one request to `127.0.0.1:port` (or `opts.host`) and buffers the response. */
export function request(port: number, opts: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...opts.headers };
    // Node's client sends DELETE/OPTIONS bodies without framing unless told the length.
    if (
      (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) &&
      headers['content-length'] === undefined &&
      headers['transfer-encoding'] === undefined
    ) {
      headers['content-length'] = String(Buffer.byteLength(opts.body));
    }
    const req = httpRequest({
      host: opts.host ?? '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers,
      agent: false,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    });
    const timer = setTimeout(() => req.destroy(new Error('test request timeout')), opts.timeoutMs ?? 30_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!opts.discardBody) chunks.push(chunk);
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          bodyBytes: bytes,
          text: () => body.toString('utf8'),
          json: <T>() => JSON.parse(body.toString('utf8')) as T,
        });
      });
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}
