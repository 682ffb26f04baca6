/**
 * `forward` relays one HTTP exchange between the client and an upstream pool, both directions
 * streamed, with retries on the next endpoint.
 *
 * Hot-path choice: `Pool.dispatch` with the (legacy) raw-header handler below, writing with
 * `ServerResponse.writeHead(status, flatArray)`. It allocates no Readable and no header object and
 * takes Node's writeHead fast path (no `setHeader` map). The legacy handler API is used on
 * purpose: undici calls it directly, while the new controller API goes through its
 * `UnwrapHandler` adapter, and it hands over the raw `[name, value]` Buffers we filter anyway.
 * Measured (wrk -t1 -c50 -d5s, 19-byte backend on 127.0.0.1, 2 cores shared with other jobs,
 * three alternating runs): this data plane 10.3k / 14.9k / 10.8k req/s; a minimal Fastify
 * catch-all doing `pool.request()` + `reply.send(body)` (Host only, no forwarded headers, no
 * normalisation) 10.0k / 15.1k / 8.2k req/s; the backend directly 44k req/s. So the full
 * pipeline costs nothing measurable over the minimal one; most of the CPU goes to socket writes.
 *
 * Retry rules (ingress-nginx `proxy_next_upstream error timeout`, made safe):
 * - nothing reached the upstream (connect refused/timeout, DNS, closed pool: `onConnect` never
 *   ran) → retry on the next endpoint, any method;
 * - bytes may have been sent → retry only idempotent methods, only if no request body was
 *   consumed, and only before any response byte; never once response headers went out.
 * A route's `proxy-next-upstream` (`upstream-policy.ts`) picks which failure kinds retry at all,
 * lets `non_idempotent` methods retry, and adds `http_NNN`: such a status is decided on the status
 * line, before anything is written to the client (the attempt is aborted, nothing is buffered),
 * for requests without a body only. `proxy-next-upstream-tries` / `-timeout` bound the attempts.
 *
 * Body limit (`proxy-body-size`): a Content-Length above it answers 413 before any upstream is
 * contacted; a body without one is counted as it streams, and crossing the limit aborts the
 * upstream request and answers 413 (or cuts the response if it has begun).
 *
 * A route's connect timeout below the pools' (which are the global one, or the longest a route
 * asks for) is a timer per attempt: when it fires before `onConnect`, the attempt is abandoned
 * (`AttemptGuard`) and counts as a connect timeout.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../compile/types.js';
import type { UpstreamOptions } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { AccessRecord } from './access-log.js';
import type { Balancing } from './backend-selection.js';
import { attemptIndex, roundRobin } from './balancer.js';
import { answerWithErrorPage, interceptedStatus } from './custom-errors.js';
import { statusLine, upstreamErrorBody } from './errors.js';
import { peerAddress } from './forwarded-headers.js';
import { GzipRelay, gzipDecision, gzipHeaders } from './gzip.js';
import { buildResponseHeaders, trailerFields } from './hop-by-hop.js';
import { http2HasBody } from './http2.js';
import type { LiveSettings } from './live-settings.js';
import { routeLabel } from './resolve.js';
import type { ResponseShaping } from './response-shaping.js';
import {
  classifyUpstreamError,
  errorCodeOf,
  SEND_TIMEOUT,
  type UpstreamErrorRow,
} from './upstream-errors.js';
import { declaredBodyLength, type RouteUpstream, retryAllows, routeUpstream } from './upstream-policy.js';
import type { BackendUpstreams, Upstream } from './upstreams.js';

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Pseudo error code of an attempt abandoned for a status `proxy-next-upstream` retries. */
const NEXT_UPSTREAM_STATUS = 'PORTICO_NEXT_UPSTREAM_STATUS';
/** Pseudo error code of an attempt whose route connect timeout fired (classified as a connect timeout). */
const ROUTE_CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';
const ABANDONED = new Error('attempt abandoned');
/** How long the rest of a refused (413) body is read and dropped before the connection is cut. */
const LINGER_MS = 5_000;

/**
 * `AttemptGuard` stands between undici and the exchange for an attempt that has its own connect
 * deadline: once abandoned, whatever undici later reports for that attempt is dropped, and a
 * connection it eventually gets is given up without touching the request body (the next attempt
 * may be streaming it).
 */
class AttemptGuard implements Dispatcher.DispatchHandler {
  #live = true;
  constructor(
    private readonly exchange: Exchange,
    private readonly h2: boolean,
  ) {}

  abandon(): void {
    this.#live = false;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#live) {
      this.exchange.onConnect(abort);
      return;
    }
    // HTTP/2: aborting resets the stream before any body is piped. HTTP/1.1: undici's abort would
    // destroy the shared body stream; a throw makes it fail this request alone.
    if (this.h2) abort();
    else throw ABANDONED;
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[], resume: () => void): boolean {
    return this.#live ? this.exchange.onHeaders(statusCode, rawHeaders, resume) : false;
  }

  onData(chunk: Buffer): boolean {
    return this.#live ? this.exchange.onData(chunk) : false;
  }

  onComplete(trailers?: (Buffer | string)[] | null): void {
    if (this.#live) this.exchange.onComplete(trailers);
  }

  onError(err: Error): void {
    if (this.#live) this.exchange.onError(err);
  }
}

/**
 * `ForwardSettings` is shared by every exchange of one data plane. The timeouts and retry budget
 * are not here: they are live settings, read once per request (`ForwardRequest.settings`).
 */
export interface ForwardSettings {
  readonly logger: Logger;
  /** True while draining: responses carry `Connection: close`. */
  readonly draining: () => boolean;
  /**
   * The CURRENT endpoint set of a backend key over a transport (absent: plain HTTP), used when the
   * one a request read was retired.
   */
  readonly currentEndpoints: (backendKey: string, transportKey?: string) => BackendUpstreams | undefined;
}

// A request whose endpoint set was retired under it re-reads the live set at most this often.
const MAX_REFRESHES = 3;

/** `ForwardRequest` is one routed request, ready to go upstream. */
export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly headers: string[];
  readonly requestId: string;
  readonly backend: BackendUpstreams;
  /** The route that answered, for logs. */
  readonly match: RouteMatch;
  /** The global settings this request runs with (read once, when it was resolved). */
  readonly settings: LiveSettings;
  /** Strict-Transport-Security `[name, value]` for every response (HTTPS listener, TLS host). */
  readonly hsts?: readonly string[] | undefined;
  /** More response headers the policies add (RateLimit-*). */
  readonly extraHeaders?: readonly string[] | undefined;
  /** Response headers that depend on the upstream's status (the auth service's Set-Cookie). */
  readonly headersForStatus?: ((status: number) => readonly string[]) | undefined;
  /** The access log record to fill, when a line is due. */
  readonly record?: AccessRecord | undefined;
  /** `rewrite-target`: the upstream request target instead of `req.url` (absent: unchanged). */
  readonly upstreamTarget?: string | undefined;
  /** Endpoint choice of routes with affinity or a load-balance annotation (cookie, EWMA feedback). */
  readonly balancing?: Balancing | undefined;
  /** Headers the route's policy sets on every response (CORS, `custom-headers`). */
  readonly shaping?: ResponseShaping | undefined;
}

/** `hasRequestBody` tells whether a request carries a body (RFC 9112 §6.3). */
export function hasRequestBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) return http2HasBody(req);
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * `sendBuiltIn` writes a short text/plain response produced by Portico itself (404, 503, …).
 * `close` forces `Connection: close`, e.g. when an unread request body is still on the wire.
 */
export function sendBuiltIn(
  res: ServerResponse,
  status: number,
  body: string,
  requestId: string,
  close: boolean,
  extra?: readonly string[],
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'server',
    'portico',
    'x-request-id',
    requestId,
  ];
  if (extra !== undefined) headers.push(...extra);
  // HTTP/2 has no Connection header (Node throws on one): the stream ends, the session lives on.
  if (close && res.req.httpVersionMajor !== 2) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * `Exchange` is one proxied request: it is the undici dispatch handler of every attempt (undici
 * never calls a handler again after `onError`/`onComplete`, so one object can serve the retries).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly #f: ForwardRequest;
  readonly #s: ForwardSettings;
  readonly #u: UpstreamOptions;
  readonly #r: RouteUpstream;
  readonly #method: string;
  #set: BackendUpstreams;
  #maxAttempts: number;
  #first: number;
  #attempt = 0;
  #refreshes = 0;
  #upstream: Upstream | undefined;
  #body: PassThrough | null = null;
  #abort: ((err?: Error) => void) | undefined;
  #connected = false;
  #responded = false;
  #done = false;
  #clientGone = false;
  #resume: (() => void) | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastClientByte = 0;
  /** Request body bytes seen, counted only when a body limit applies and no Content-Length says it. */
  #bodyBytes = 0;
  /** When the first attempt started, for `proxy-next-upstream-timeout`. */
  #startedAt = 0;
  /** The attempt in flight was aborted on purpose to retry its status on the next endpoint. */
  #statusRetry = false;
  #guard: AttemptGuard | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  /** The backend's status when `custom-http-errors` intercepts it: its body is discarded. */
  #intercepted: number | undefined;
  /** `use-gzip`: the compressor the body goes through, when this response is compressed. */
  #gzip: GzipRelay | undefined;
  /** grpc-status & co. taken from the response headers of a trailers-only gRPC answer (HTTP/2 clients). */
  #statusTrailers: Record<string, string> | undefined;
  /** When the current attempt was dispatched, for EWMA feedback (only with `balancing`). */
  #dispatchedAt = 0;

  constructor(f: ForwardRequest, s: ForwardSettings, first: number) {
    this.#f = f;
    this.#s = s;
    this.#r = routeUpstream(f.settings.upstream, f.match.policy.upstream);
    this.#u = this.#r.options;
    this.#method = f.req.method ?? 'GET';
    this.#set = f.backend;
    this.#maxAttempts = Math.max(1, Math.min(this.#u.maxTries, f.backend.upstreams.length));
    if (this.#r.retryBudgetMs > 0) this.#startedAt = Date.now();
    this.#first = first;
  }

  /** `start` sends the first attempt. */
  start(): void {
    const { req, res } = this.#f;
    if (hasRequestBody(req)) {
      const limit = this.#r.maxBodyBytes;
      const declared = limit > 0 ? declaredBodyLength(req) : undefined;
      if (declared !== undefined && declared > limit) {
        // Refused before any upstream is contacted: the backend never sees this request.
        this.#tooLarge();
        return;
      }
      // Counted ahead of the pipe below, so the chunk that crosses the limit is never forwarded.
      if (limit > 0 && declared === undefined) req.prependListener('data', this.#onLimitedData);
    }
    res.once('close', this.#onClientClose);
    if (hasRequestBody(req)) {
      // The body goes through a PassThrough, not req itself: undici destroys a body stream on
      // failure, and destroying an IncomingMessage would kill the client socket before we could
      // answer 502/504. The PassThrough also stays reusable for a retry while nothing read it.
      const body = new PassThrough();
      // Destroyed with an error when the body is too large; undici and H2Upstream listen while
      // they use it, this keeps the error from being unhandled outside that window.
      body.on('error', noop);
      this.#body = body;
      req.pipe(body);
      this.#lastClientByte = Date.now();
      req.on('data', this.#onClientData);
      req.once('end', this.#stopWatchdog);
      const idle = Math.min(this.#f.settings.clientBodyIdleMs, this.#u.sendTimeoutMs);
      this.#watchdog = setTimeout(this.#onWatchdog, idle);
      this.#watchdog.unref();
    }
    this.#dispatch();
  }

  #dispatch(): void {
    const set = this.#set;
    const upstream = set.upstreams[
      attemptIndex(this.#first, this.#attempt, set.upstreams.length)
    ] as Upstream;
    this.#upstream = upstream;
    const record = this.#f.record;
    if (record !== undefined) {
      record.upstream = upstream.key;
      record.upstreamStart = performance.now();
    }
    this.#connected = false;
    this.#abort = undefined;
    if (this.#f.balancing !== undefined) this.#dispatchedAt = performance.now();
    // A route connect timeout shorter than the pool's: this attempt gets its own deadline.
    const poolConnectMs = upstream.connectTimeoutMs ?? this.#f.settings.upstream.connectTimeoutMs;
    let handler: Dispatcher.DispatchHandler = this;
    if (this.#u.connectTimeoutMs < poolConnectMs) {
      const guard = new AttemptGuard(this, upstream.transport?.h2 === true);
      this.#guard = guard;
      handler = guard;
      this.#connectTimer = setTimeout(this.#onConnectDeadline, this.#u.connectTimeoutMs);
      this.#connectTimer.unref();
    } else this.#guard = undefined;
    const options: Dispatcher.DispatchOptions & { servername?: string | undefined } = {
      path: this.#f.upstreamTarget ?? this.#f.req.url ?? '/',
      method: this.#method as Dispatcher.HttpMethod,
      headers: this.#f.headers,
      body: this.#body,
      // Per request, so a proxy-read-timeout change applies without re-creating pools.
      headersTimeout: this.#u.readTimeoutMs,
      bodyTimeout: this.#u.readTimeoutMs,
      // HTTPS pools: a constant, so undici does not reconnect when the Host header changes.
      servername: upstream.servername,
    };
    upstream.pool.dispatch(options, handler);
  }

  readonly #onConnectDeadline = (): void => {
    this.#connectTimer = undefined;
    const guard = this.#guard;
    if (guard === undefined || this.#connected || this.#done) return;
    guard.abandon();
    this.#guard = undefined;
    this.onError(
      Object.assign(new Error('upstream connect timeout (route proxy-connect-timeout)'), {
        code: ROUTE_CONNECT_TIMEOUT,
      }),
    );
  };

  #clearConnectTimer(): void {
    if (this.#connectTimer !== undefined) {
      clearTimeout(this.#connectTimer);
      this.#connectTimer = undefined;
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#clearConnectTimer();
    this.#abort = abort;
    this.#connected = true;
    if (this.#clientGone) abort();
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[], resume: () => void): boolean {
    // 1xx informational responses (other than 101, which only upgrades see) are not relayed.
    if (statusCode < 200) return true;
    if (this.#r.retry.statuses?.has(statusCode) === true && this.#canRetryStatus()) {
      // Nothing was written to the client yet: abandon this answer and ask the next endpoint.
      this.#s.logger.info(
        {
          route: routeLabel(this.#f.match),
          upstream: this.#upstream?.key,
          status: statusCode,
          requestId: this.#f.requestId,
        },
        'upstream status retried on the next endpoint (proxy-next-upstream)',
      );
      this.#statusRetry = true;
      this.#abort?.(
        Object.assign(new Error(`upstream answered ${statusCode}`), { code: NEXT_UPSTREAM_STATUS }),
      );
      return false;
    }
    const res = this.#f.res;
    const record = this.#f.record;
    if (record !== undefined) {
      record.upstreamStatus = statusCode;
      record.upstreamMs = performance.now() - record.upstreamStart;
    }
    this.#resume = resume;
    if (interceptedStatus(this.#f.match, statusCode)) {
      // Decided on the status line: nothing of this response reaches the client.
      this.#intercepted = statusCode;
      return true;
    }
    const shaping = this.#f.shaping;
    let headers = buildResponseHeaders(rawHeaders, {
      requestId: this.#f.requestId,
      // An upstream may answer before reading the whole request body; the rest of that body is
      // still on the client connection, so it cannot carry another request.
      // HTTP/2 has no Connection header; draining sends GOAWAY instead (drain.ts).
      closeConnection:
        this.#f.req.httpVersionMajor !== 2 &&
        (this.#s.draining() || (this.#body !== null && !this.#f.req.complete)),
      hsts: this.#f.hsts,
      extra: withShaping(this.#extraHeaders(statusCode), shaping),
      replace: shaping?.replace,
    });
    // A gRPC "trailers-only" answer (an error with no message) carries grpc-status in its one
    // HEADERS frame with END_STREAM. Relayed as response headers followed by an empty end, gRPC
    // clients see no status and report INTERNAL; moved into trailers, it is the equivalent
    // headers + trailers form every gRPC client reads.
    if (this.#f.req.httpVersionMajor === 2) this.#statusTrailers = takeGrpcStatus(headers);
    const gzip = this.#f.settings.gzip;
    const compress =
      gzip !== undefined && gzipDecision(gzip, this.#f.req.method, this.#f.req.headers, statusCode, headers);
    if (compress) headers = gzipHeaders(headers);
    try {
      res.writeHead(statusCode, headers);
    } catch (err) {
      // Node refused a header the upstream sent (invalid characters): a protocol error.
      this.#abort?.(
        Object.assign(new Error('invalid upstream response header'), {
          code: 'HPE_INVALID_HEADER_TOKEN',
          cause: err,
        }),
      );
      return false;
    }
    if (compress) {
      this.#gzip = new GzipRelay(
        gzip.level,
        res,
        (n) => {
          if (record !== undefined) record.bytes += n;
        },
        this.#onDrain,
      );
    }
    this.#responded = true;
    return true;
  }

  #extraHeaders(statusCode: number): readonly string[] | undefined {
    const f = this.#f;
    const cookie =
      f.balancing?.responseHeaders === undefined || this.#upstream === undefined
        ? undefined
        : f.balancing.responseHeaders(this.#set, this.#upstream);
    if (f.headersForStatus === undefined && cookie === undefined) return f.extraHeaders;
    return [...(f.extraHeaders ?? []), ...(f.headersForStatus?.(statusCode) ?? []), ...(cookie ?? [])];
  }

  onData(chunk: Buffer): boolean {
    if (this.#intercepted !== undefined) return true;
    if (this.#gzip !== undefined) return this.#gzip.write(chunk);
    const res = this.#f.res;
    if (this.#f.record !== undefined) this.#f.record.bytes += chunk.length;
    if (res.write(chunk)) return true;
    res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(trailers?: (Buffer | string)[] | null): void {
    this.#finish();
    const balancing = this.#f.balancing;
    if (balancing?.observe !== undefined && this.#upstream !== undefined) {
      balancing.observe(this.#set, this.#upstream, performance.now() - this.#dispatchedAt);
    }
    if (this.#intercepted !== undefined) {
      this.#errorPage(this.#intercepted);
      return;
    }
    // A compressed body ends once the compressor has given out its last bytes.
    if (this.#gzip !== undefined) this.#gzip.end(() => this.#endResponse(trailers));
    else this.#endResponse(trailers);
  }

  /** `#endResponse` writes the trailers, if any, and ends the client response. */
  #endResponse(trailers: (Buffer | string)[] | null | undefined): void {
    const res = this.#f.res;
    // gRPC status travels in trailers. Node writes them on HTTP/2 and on chunked HTTP/1.1
    // responses, and drops them on a response sized by Content-Length (nowhere to put them).
    const fields = trailers != null && trailers.length > 0 ? trailerFields(trailers) : undefined;
    const all = this.#statusTrailers === undefined ? fields : { ...this.#statusTrailers, ...fields };
    if (all !== undefined) {
      try {
        res.addTrailers(all);
      } catch {
        // A trailer Node refuses (invalid characters) is dropped; the body is complete anyway.
      }
    }
    res.end();
  }

  onError(err: Error): void {
    this.#clearConnectTimer();
    if (this.#done) return;
    if (this.#clientGone) {
      this.#finish();
      return;
    }
    if (this.#statusRetry) {
      this.#statusRetry = false;
      this.#attempt++;
      this.#dispatch();
      return;
    }
    if (this.#intercepted !== undefined) {
      // The discarded body failed: the error page answers all the same.
      this.#finish();
      this.#errorPage(this.#intercepted);
      return;
    }
    const row = classifyUpstreamError(err);
    if (this.#responded) {
      // Headers went out: the only honest signal left is a truncated response.
      this.#log(row, err);
      this.#finish();
      this.#gzip?.destroy();
      this.#f.res.destroy();
      return;
    }
    if (this.#refresh(row)) {
      this.#dispatch();
      return;
    }
    if (this.#canRetry(row)) {
      this.#attempt++;
      this.#dispatch();
      return;
    }
    this.#log(row, err);
    this.#finish();
    // ingress-nginx's error_page covers the errors nginx itself answers (502, 504) too.
    if (interceptedStatus(this.#f.match, row.status)) this.#errorPage(row.status);
    else this.#fail(row);
  }

  /**
   * The pool was closed before anything was sent: its endpoint left the table after this request
   * read the endpoint set. Routing stays on the request's snapshot, but the endpoints are re-read
   * from the live table, so an endpoint swap never turns into a 502.
   */
  #refresh(row: UpstreamErrorRow): boolean {
    if (row.code !== 'PORTICO_ERR_UPSTREAM_CLOSED' || this.#refreshes >= MAX_REFRESHES) return false;
    if (!this.#bodyReusable()) return false;
    const fresh = this.#s.currentEndpoints(this.#set.backendKey, this.#set.transportKey);
    if (fresh === undefined || fresh === this.#set || fresh.upstreams.length === 0) return false;
    this.#refreshes++;
    this.#set = fresh;
    this.#attempt = 0;
    this.#maxAttempts = Math.max(1, Math.min(this.#u.maxTries, fresh.upstreams.length));
    this.#first =
      this.#f.balancing === undefined
        ? roundRobin.first(fresh.balancer, fresh.upstreams.length, {
            clientAddress: peerAddress(this.#f.req.socket),
            path: this.#f.req.url ?? '/',
          })
        : this.#f.balancing.first(fresh);
    return true;
  }

  #canRetry(row: UpstreamErrorRow): boolean {
    if (this.#attempt + 1 >= this.#maxAttempts) return false;
    if (row.status === 400) return false;
    if (!retryAllows(this.#r.retry, row) || this.#retryBudgetSpent()) return false;
    if (row.phase === 'connect' || !this.#connected) return this.#bodyReusable();
    if (!IDEMPOTENT.has(this.#method) && !this.#r.retry.nonIdempotent) return false;
    return this.#bodyReusable();
  }

  /** A status retry aborts the attempt, which would destroy a request body: body-less requests only. */
  #canRetryStatus(): boolean {
    if (this.#attempt + 1 >= this.#maxAttempts || this.#body !== null || this.#retryBudgetSpent()) {
      return false;
    }
    return IDEMPOTENT.has(this.#method) || this.#r.retry.nonIdempotent;
  }

  #retryBudgetSpent(): boolean {
    return this.#r.retryBudgetMs > 0 && Date.now() - this.#startedAt >= this.#r.retryBudgetMs;
  }

  #errorPage(status: number): void {
    const { req, res } = this.#f;
    if (this.#f.record !== undefined) this.#f.record.upstreamStatus = status;
    answerWithErrorPage({
      req,
      res,
      match: this.#f.match,
      status,
      requestId: this.#f.requestId,
      upstreamHeaders: this.#f.headers,
      hsts: this.#f.hsts,
      extra: this.#f.extraHeaders,
      shaping: this.#f.shaping,
      close: req.httpVersionMajor !== 2 && (this.#s.draining() || (this.#body !== null && !req.complete)),
      readTimeoutMs: this.#u.readTimeoutMs,
      endpoints: (key) => this.#s.currentEndpoints(key),
      logger: this.#s.logger,
    });
  }

  #bodyReusable(): boolean {
    const body = this.#body;
    return body === null || (!body.destroyed && !body.readableDidRead);
  }

  #fail(row: UpstreamErrorRow): void {
    const { req, res } = this.#f;
    // An unread request body may still be on the wire: the connection cannot be reused.
    const close = this.#s.draining() || (this.#body !== null && !req.complete);
    sendBuiltIn(
      res,
      row.status,
      upstreamErrorBody(row.status, this.#set.backendKey, row.what),
      this.#f.requestId,
      close,
      withShaping(this.#f.hsts, this.#f.shaping),
    );
  }

  #log(row: UpstreamErrorRow, err: unknown): void {
    this.#s.logger.warn(
      {
        route: routeLabel(this.#f.match),
        backend: this.#set.backendKey,
        upstream: this.#upstream?.key,
        code: row.code,
        errorCode: errorCodeOf(err) || undefined,
        status: row.status,
        attempts: this.#attempt + 1,
        requestId: this.#f.requestId,
      },
      `upstream ${row.what}`,
    );
  }

  #finish(): void {
    this.#done = true;
    this.#clearConnectTimer();
    this.#stopWatchdog();
    const { req, res } = this.#f;
    res.off('close', this.#onClientClose);
    if (this.#body !== null && !req.complete) {
      // The exchange is over but the client is still sending: discard the rest instead of
      // leaving the connection stalled on a paused pipe.
      req.unpipe(this.#body);
      req.resume();
    }
  }

  readonly #onDrain = (): void => {
    this.#resume?.();
  };

  readonly #onClientClose = (): void => {
    if (this.#done) return;
    // The client went away before the response finished: free the upstream connection.
    this.#clientGone = true;
    this.#stopWatchdog();
    this.#abort?.();
    this.#body?.destroy();
    this.#gzip?.destroy();
  };

  /** Answers 413 for a body whose Content-Length is above the limit; nothing was sent upstream. */
  #tooLarge(): void {
    this.#done = true;
    const { req, res } = this.#f;
    this.#s.logger.info(
      { route: routeLabel(this.#f.match), requestId: this.#f.requestId, limit: this.#r.maxBodyBytes },
      'request body too large',
    );
    const body = `${statusLine(413)} — Portico: request body larger than ${this.#r.maxBodyBytes} bytes\n`;
    if (this.#f.record !== undefined && req.method !== 'HEAD') this.#f.record.bytes = Buffer.byteLength(body);
    // nginx's lingering close: the rest of the body is read and dropped for a while, so the client
    // reads the 413 instead of a reset on its unfinished upload. A body that ends in time leaves
    // the connection usable; one that does not is cut after LINGER_MS.
    req.resume();
    if (!req.complete) {
      const cut = setTimeout(() => {
        if (req.complete) return;
        if (req.httpVersionMajor === 2) res.destroy();
        else req.socket.destroy();
      }, LINGER_MS);
      cut.unref();
      req.once('end', () => clearTimeout(cut));
    }
    sendBuiltIn(res, 413, body, this.#f.requestId, this.#s.draining(), this.#f.hsts);
  }

  readonly #onLimitedData = (chunk: Buffer): void => {
    this.#bodyBytes += chunk.length;
    if (this.#bodyBytes <= this.#r.maxBodyBytes) return;
    this.#f.req.off('data', this.#onLimitedData);
    if (this.#done) return;
    // Before the pipe's own 'data' handler runs: this chunk never reaches the upstream.
    this.#body?.destroy(
      Object.assign(new Error('request body too large'), { code: 'PORTICO_BODY_TOO_LARGE' }),
    );
    const abort = this.#abort;
    const responded = this.#responded;
    this.#finish();
    abort?.();
    if (responded) {
      this.#f.res.destroy();
      return;
    }
    this.#tooLarge();
  };

  readonly #onClientData = (chunk: Buffer): void => {
    this.#lastClientByte = Date.now();
    if (this.#f.record !== undefined) this.#f.record.requestBytes += chunk.length;
  };

  readonly #stopWatchdog = (): void => {
    if (this.#watchdog !== undefined) {
      clearTimeout(this.#watchdog);
      this.#watchdog = undefined;
    }
    this.#f.req.off('data', this.#onClientData);
  };

  /**
   * Fires after min(client body idle, upstream send idle) while the request body is incomplete.
   * If the client→Portico pipe is stalled by backpressure, the upstream stopped reading (send
   * timeout → 504); otherwise the client stopped sending (body timeout → 408).
   */
  readonly #onWatchdog = (): void => {
    this.#watchdog = undefined;
    if (this.#done || this.#f.req.complete) return;
    const body = this.#body;
    const stalledUpstream = body?.writableNeedDrain === true;
    const limit = stalledUpstream ? this.#u.sendTimeoutMs : this.#f.settings.clientBodyIdleMs;
    const idleFor = Date.now() - this.#lastClientByte;
    if (idleFor < limit) {
      this.#watchdog = setTimeout(this.#onWatchdog, limit - idleFor);
      this.#watchdog.unref();
      return;
    }
    if (stalledUpstream) {
      if (this.#abort === undefined) {
        // Still connecting: the connect timeout owns this phase; look again later.
        this.#watchdog = setTimeout(this.#onWatchdog, limit);
        this.#watchdog.unref();
        return;
      }
      this.#abort(Object.assign(new Error('upstream send timeout'), { code: SEND_TIMEOUT }));
      return;
    }
    // Client body timeout: answer 408 if nothing went out yet, else cut the connection.
    this.#s.logger.info(
      { route: routeLabel(this.#f.match), requestId: this.#f.requestId },
      'client request body timeout',
    );
    const abort = this.#abort;
    this.#finish();
    abort?.();
    this.#body?.destroy();
    const res = this.#f.res;
    if (this.#responded) {
      res.destroy();
    } else {
      sendBuiltIn(
        res,
        408,
        `${statusLine(408)} — Portico: client request body timeout\n`,
        this.#f.requestId,
        true,
        this.#f.hsts,
      );
    }
  };
}

function noop(): void {}
/** `withShaping` appends a route's shaping headers to a flat header list. */
function withShaping(
  headers: readonly string[] | undefined,
  shaping: ResponseShaping | undefined,
): readonly string[] | undefined {
  if (shaping === undefined || shaping.headers.length === 0) return headers;
  return headers === undefined ? shaping.headers : [...headers, ...shaping.headers];
}

const GRPC_STATUS_FIELDS: ReadonlySet<string> = new Set([
  'grpc-status',
  'grpc-message',
  'grpc-status-details-bin',
]);

/**
 * `takeGrpcStatus` removes the gRPC status fields from a flat response header list and returns
 * them, or undefined (and the list untouched) when there is no `grpc-status`.
 */
export function takeGrpcStatus(headers: string[]): Record<string, string> | undefined {
  let found = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]?.toLowerCase() === 'grpc-status') found = true;
  }
  if (!found) return undefined;
  const out: Record<string, string> = {};
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]?.toLowerCase() ?? '';
    if (!GRPC_STATUS_FIELDS.has(name)) continue;
    out[name] = headers[i + 1] ?? '';
    headers.splice(i, 2);
  }
  return out;
}
