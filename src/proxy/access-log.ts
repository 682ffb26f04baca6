/**
 * `access-log` writes one JSON line per request (ingress-nginx logs every request by default; so
 * does Portico). Lines go through pino with an asynchronous destination, so a request never waits
 * on the write, and they carry `"type":"access"` to tell them from Portico's own log lines when
 * both share stdout.
 *
 * The same end-of-response moment feeds the per-request metrics (metrics/requests.ts) when the
 * process has them, whether or not a line is due: a record is kept when either wants one.
 *
 * Privacy: the query string is not logged (it often carries tokens), nor any header value but
 * the request id; credentials never appear.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import type { RouteMatch } from '../compile/types.js';
import type { RequestMetrics } from '../metrics/requests.js';
import { peerAddress } from './forwarded-headers.js';

/** `AccessLogDestination` is `--access-log`: `stdout`, `off`, or a file path. */
export type AccessLogDestination = string;

/**
 * `AccessRecord` accumulates what one request did; the exchange fills the upstream fields and
 * `finish` writes the line when the response is over (sent, or cut by either side).
 */
export class AccessRecord {
  /** `performance.now()` when the request reached the handler. */
  readonly start: number;
  readonly requestId: string;
  ingress: string | undefined;
  service: string | undefined;
  /** `ip:port` of the endpoint of the last attempt. */
  upstream: string | undefined;
  upstreamStatus: number | undefined;
  /** Milliseconds from the last attempt's dispatch to its response headers. */
  upstreamMs: number | undefined;
  /** `performance.now()` when the last attempt was dispatched. */
  upstreamStart = 0;
  /** Response body bytes written to the client. */
  bytes = 0;
  /** Request body bytes read from the client. */
  requestBytes = 0;
  /** The route that answered (metrics labels). */
  match: RouteMatch | undefined;

  constructor(start: number, requestId: string) {
    this.start = start;
    this.requestId = requestId;
  }
}

/**
 * `AccessLog` is the writer; `enabled` is false for `--access-log off`. `tracks` is true when
 * requests need a record at all: a line may be due, or `requests` (the metrics hook) is given.
 */
export class AccessLog {
  readonly enabled: boolean;
  readonly tracks: boolean;
  /** The per-request metrics, also for the paths that keep no record (WebSocket upgrades). */
  readonly requests: RequestMetrics | undefined;
  readonly #out: Logger | undefined;

  constructor(destination: AccessLogDestination, requests?: RequestMetrics) {
    this.enabled = destination !== 'off';
    this.requests = requests;
    this.tracks = this.enabled || requests !== undefined;
    if (!this.enabled) return;
    this.#out = pino(
      { base: null, timestamp: false, messageKey: 'msg' },
      pino.destination({ dest: destination === 'stdout' ? 1 : destination, sync: false, mkdir: true }),
    );
  }

  /**
   * `track` writes `record`'s line (when `line`) and records its metrics when `res` closes. The
   * status is what was sent; a response cut before its headers (the client went away) is logged
   * as nginx's 499.
   */
  track(req: IncomingMessage, res: ServerResponse, record: AccessRecord, line = true): void {
    const out = line ? this.#out : undefined;
    const requests = this.requests;
    if (out === undefined && requests === undefined) return;
    // Now, not at 'close': an HTTP/2 stream that ended no longer reaches its connection.
    const client = out === undefined ? undefined : peerAddress(req.socket);
    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : 499;
      const durationMs = performance.now() - record.start;
      requests?.observe(
        record.match,
        req.method,
        status,
        durationMs / 1_000,
        record.upstreamMs === undefined ? -1 : record.upstreamMs / 1_000,
        record.requestBytes,
        record.bytes,
      );
      if (out === undefined) return;
      const target = req.url ?? '/';
      const query = target.indexOf('?');
      out.info({
        type: 'access',
        time: new Date().toISOString(),
        requestId: record.requestId,
        client,
        method: req.method,
        host: req.headers.host ?? req.headers[':authority'],
        path: query === -1 ? target : target.slice(0, query),
        protocol: `HTTP/${req.httpVersion}`,
        status,
        bytes: record.bytes,
        durationMs: round(durationMs),
        upstream: record.upstream,
        upstreamStatus: record.upstreamStatus,
        upstreamMs: record.upstreamMs === undefined ? undefined : round(record.upstreamMs),
        ingress: record.ingress,
        service: record.service,
      });
    });
  }

  /**
   * `begin` starts the record of one routed request, or returns undefined when neither a line
   * nor metrics are due. No line is due when the log is off, the ConfigMap turned it off, or the
   * answering Ingress did; metrics are recorded regardless.
   */
  begin(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    requestId: string,
    match: RouteMatch | undefined,
    live: boolean,
  ): AccessRecord | undefined {
    const line = this.enabled && live && match?.policy.accessLog !== false;
    if (!line && this.requests === undefined) return undefined;
    const record = new AccessRecord(start, requestId);
    record.match = match;
    if (line) {
      record.ingress = match?.ingress;
      const backend = match?.backend;
      if (backend !== undefined) record.service = `${backend.namespace}/${backend.service}`;
    }
    this.track(req, res, record, line);
    return record;
  }

  /** `flush` writes out what is buffered (shutdown). */
  flush(): void {
    this.#out?.flush();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
