/**
 * `h2-upstream` is the HTTP/2 client for GRPC, GRPCS and H2C backends: one `node:http2` session
 * per endpoint and transport, reused by every request, replaced after GOAWAY, close or error. It
 * takes the same `dispatch(options, handler)` call and legacy handler callbacks as an undici
 * `Pool`, so `forward.ts` drives both the same way.
 *
 * Why not undici: undici 7 does speak HTTP/2 (`allowH2`, and h2c prior knowledge with
 * `connect: { useH2c: true }`), but its h2 client ends the response when the trailers frame
 * arrives, dropping body chunks still buffered in a paused stream. Under backpressure (a slow
 * client: exactly when `forward.ts` pauses) a gRPC response loses messages: measured with a
 * handler that pauses after every chunk, 3,145,584 of 3,276,800 bytes arrived before
 * `onComplete(trailers)`. Here trailers are held until the stream's `end`, after the last chunk.
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectH2,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { Readable } from 'node:stream';
import { checkServerIdentity, connect as connectTls } from 'node:tls';
import type { Dispatcher } from 'undici';
import { acceptsTrailers } from './hop-by-hop.js';
import type { UpstreamTls } from './upstream-transport.js';

/** `UpstreamHandler` is the subset of undici's legacy dispatch handler both clients call. */
export interface UpstreamHandler {
  onConnect?(abort: (err?: Error) => void): void;
  onHeaders?(
    statusCode: number,
    headers: (Buffer | string)[],
    resume: () => void,
    statusText: string,
  ): boolean;
  onData?(chunk: Buffer): boolean;
  /** Raw trailers as a flat `[name, value, …]` list, or null when there are none. */
  onComplete?(trailers: (Buffer | string)[] | null): void;
  onError?(err: Error): void;
}

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); hop-by-hop filtering removed most already. */
const H2_FORBIDDEN: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * `h2RequestHeaders` maps the flat upstream header list (HTTP/1.1 style, as `buildUpstreamHeaders`
 * makes it) to an HTTP/2 header block: Host becomes `:authority`, pseudo-headers are derived
 * from the request, forbidden connection fields are dropped, TE survives only as `trailers`,
 * repeated fields are joined (cookies with `; `, RFC 9113 §8.2.3).
 */
export function h2RequestHeaders(
  flat: readonly string[],
  method: string,
  path: string,
  scheme: 'http' | 'https',
  fallbackAuthority: string,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':scheme': scheme, ':path': path };
  let authority: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase();
    const value = flat[i + 1] as string;
    if (name === 'host' || name === ':authority') {
      authority ??= value;
      continue;
    }
    // Pseudo-headers of an HTTP/2 client request are re-derived above, never copied.
    if (name.charCodeAt(0) === 0x3a || H2_FORBIDDEN.has(name)) continue;
    if (name === 'te') {
      if (acceptsTrailers(value)) out.te = 'trailers';
      continue;
    }
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else out[name] = `${String(previous)}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  out[':authority'] = authority ?? fallbackAuthority;
  return out;
}

/** `h2RawHeaders` flattens an HTTP/2 header block (response or trailers) without pseudo-headers. */
export function h2RawHeaders(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, String(value));
  }
  return raw;
}

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** `H2UpstreamOptions` says where and how to connect. */
export interface H2UpstreamOptions {
  readonly address: string;
  readonly port: number;
  /** GRPCS: TLS with ALPN `h2`; absent: cleartext HTTP/2 with prior knowledge (GRPC, H2C). */
  readonly tls?: UpstreamTls;
  readonly connectTimeoutMs: number;
  /** Defaults when a dispatch sets none. */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

// A session with no stream activity for this long is closed; the next request opens a new one.
const SESSION_IDLE_MS = 60_000;

interface Waiting {
  readonly options: Dispatcher.DispatchOptions;
  readonly handler: UpstreamHandler;
}

/** `H2Upstream` is one endpoint's HTTP/2 connection, with a Pool-like surface. */
export class H2Upstream {
  readonly #o: H2UpstreamOptions;
  readonly #scheme: 'http' | 'https';
  readonly #authority: string;
  #session: ClientHttp2Session | undefined;
  #connected = false;
  #waiting: Waiting[] = [];
  /** Every session not yet closed (the current one, and older ones draining after GOAWAY). */
  readonly #sessions = new Set<ClientHttp2Session>();
  #closed = false;

  constructor(options: H2UpstreamOptions) {
    this.#o = options;
    this.#scheme = options.tls === undefined ? 'http' : 'https';
    const host = options.address.includes(':') ? `[${options.address}]` : options.address;
    this.#authority = `${host}:${options.port}`;
  }

  /** True once `close` or `destroy` was called, as undici's `Pool.closed`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `sessions` is the number of open HTTP/2 sessions (tests). */
  get sessions(): number {
    return this.#sessions.size;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: UpstreamHandler): boolean {
    if (this.#closed) {
      // As undici: a closed pool refuses before sending anything, so the caller may retry.
      queueMicrotask(() => handler.onError?.(coded('the upstream connection is closed', 'UND_ERR_CLOSED')));
      return false;
    }
    const session = this.#session ?? this.#connect();
    if (this.#connected) this.#start(session, options, handler);
    else this.#waiting.push({ options, handler });
    return true;
  }

  /** `close` stops taking requests and closes the sessions once their streams are done. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failWaiting(coded('the upstream connection is closed', 'UND_ERR_CLOSED'));
    this.#session = undefined;
    await Promise.all(
      [...this.#sessions].map(
        (s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(resolve))),
      ),
    );
  }

  /** `destroy` closes everything now. */
  async destroy(): Promise<void> {
    this.#closed = true;
    this.#failWaiting(coded('the upstream connection is destroyed', 'UND_ERR_DESTROYED'));
    this.#session = undefined;
    for (const s of this.#sessions) s.destroy();
    this.#sessions.clear();
  }

  #connect(): ClientHttp2Session {
    const { address, port, tls } = this.#o;
    const session = connectH2(`${this.#scheme}://${this.#authority}`, {
      settings: { enablePush: false },
      // Our own socket, so that SNI and verification are exactly the transport's (node:http2
      // would send the host as SNI and check the certificate against it).
      createConnection: () =>
        tls === undefined
          ? connectTcp({ host: address, port, noDelay: true })
          : connectTls({
              host: address,
              port,
              ALPNProtocols: ['h2'],
              rejectUnauthorized: tls.verify,
              ...(tls.ca !== undefined ? { ca: tls.ca.pem } : {}),
              ...(tls.sni !== undefined ? { servername: tls.sni } : {}),
              checkServerIdentity: (_host, cert) => checkServerIdentity(tls.checkName, cert),
            }),
    });
    this.#session = session;
    this.#connected = false;
    this.#sessions.add(session);
    const timer = setTimeout(() => {
      session.destroy(coded('connect timeout', 'UND_ERR_CONNECT_TIMEOUT'));
    }, this.#o.connectTimeoutMs);
    timer.unref();
    const forget = (): void => {
      if (this.#session === session) {
        this.#session = undefined;
        this.#connected = false;
      }
    };
    session.once('connect', () => {
      clearTimeout(timer);
      if (this.#session !== session) return;
      this.#connected = true;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const w of waiting) this.#start(session, w.options, w.handler);
    });
    session.on('error', (err: Error) => {
      clearTimeout(timer);
      // Streams in flight get their own error; requests still waiting for the connection never
      // reached the upstream (the "connect" phase: any method may be retried elsewhere).
      if (this.#session === session && !this.#connected) this.#failWaiting(err);
      forget();
    });
    session.once('goaway', forget);
    session.once('close', () => {
      clearTimeout(timer);
      this.#sessions.delete(session);
      if (this.#session === session && !this.#connected) {
        this.#failWaiting(coded('the upstream closed the connection', 'ECONNRESET'));
      }
      forget();
    });
    session.setTimeout(SESSION_IDLE_MS, () => {
      forget();
      session.close();
    });
    return session;
  }

  #failWaiting(err: Error): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.handler.onError?.(err);
  }

  #start(session: ClientHttp2Session, options: Dispatcher.DispatchOptions, handler: UpstreamHandler): void {
    const flat = Array.isArray(options.headers) ? (options.headers as string[]) : [];
    const body = options.body instanceof Readable ? options.body : null;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(
        h2RequestHeaders(flat, options.method, options.path, this.#scheme, this.#authority),
        { endStream: body === null },
      );
    } catch (err) {
      // Nothing was sent (invalid header, or the session is going away).
      handler.onError?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    new H2Exchange(
      stream,
      body,
      handler,
      options.headersTimeout ?? this.#o.headersTimeoutMs,
      options.bodyTimeout ?? this.#o.bodyTimeoutMs,
    );
  }
}

/** `H2Exchange` relays one stream's events to the handler, exactly once to an end. */
class H2Exchange {
  readonly #stream: ClientHttp2Stream;
  readonly #handler: UpstreamHandler;
  readonly #bodyTimeoutMs: number;
  #trailers: string[] | null = null;
  #responded = false;
  #done = false;

  constructor(
    stream: ClientHttp2Stream,
    body: Readable | null,
    handler: UpstreamHandler,
    headersTimeoutMs: number,
    bodyTimeoutMs: number,
  ) {
    this.#stream = stream;
    this.#handler = handler;
    this.#bodyTimeoutMs = bodyTimeoutMs;
    if (headersTimeoutMs > 0) stream.setTimeout(headersTimeoutMs, this.#onTimeout);
    stream.on('response', this.#onResponse);
    stream.on('data', this.#onData);
    stream.once('trailers', this.#onTrailers);
    stream.once('end', this.#onEnd);
    stream.on('error', this.#fail);
    stream.once('close', this.#onClose);
    handler.onConnect?.(this.#abort);
    if (body !== null && !this.#done) {
      body.once('error', this.#abort);
      body.pipe(stream);
    }
  }

  readonly #abort = (err?: Error): void => {
    if (this.#done) return;
    this.#fail(err ?? coded('request aborted', 'UND_ERR_ABORTED'));
  };

  readonly #fail = (err: Error): void => {
    if (this.#done) return;
    this.#done = true;
    if (!this.#stream.closed) this.#stream.close(constants.NGHTTP2_CANCEL);
    this.#handler.onError?.(err);
  };

  readonly #resume = (): void => {
    this.#stream.resume();
  };

  readonly #onResponse = (headers: IncomingHttpHeaders): void => {
    if (this.#done) return;
    this.#responded = true;
    this.#stream.setTimeout(Math.max(0, this.#bodyTimeoutMs), this.#onTimeout);
    const status = Number(headers[':status']);
    if (this.#handler.onHeaders?.(status, h2RawHeaders(headers), this.#resume, '') === false) {
      this.#stream.pause();
    }
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#done) return;
    if (this.#handler.onData?.(chunk) === false) this.#stream.pause();
  };

  readonly #onTrailers = (trailers: IncomingHttpHeaders): void => {
    // Held until 'end': chunks still buffered in a paused stream come before them.
    this.#trailers = h2RawHeaders(trailers);
  };

  readonly #onEnd = (): void => {
    if (this.#done) return;
    if (!this.#responded) {
      this.#fail(coded('HTTP/2 stream ended without a response', 'UND_ERR_SOCKET'));
      return;
    }
    this.#done = true;
    this.#stream.setTimeout(0);
    this.#handler.onComplete?.(this.#trailers);
  };

  readonly #onClose = (): void => {
    if (this.#done) return;
    const code = this.#stream.rstCode ?? 0;
    this.#fail(coded(`HTTP/2 stream closed by the upstream (code ${code})`, 'UND_ERR_SOCKET'));
  };

  readonly #onTimeout = (): void => {
    this.#fail(
      this.#responded
        ? coded('response body timeout', 'UND_ERR_BODY_TIMEOUT')
        : coded('response headers timeout', 'UND_ERR_HEADERS_TIMEOUT'),
    );
  };
}
