/**
 * `access-log` writes one JSON line per request (ingress-nginx logs every request by default; so
 * does Portico). Lines go through pino with an asynchronous destination, so a request never waits
 * on the write, and they carry `"type":"access"` to tell them from Portico's own log lines when
 * both share stdout.
 *
 * Privacy: the query string is not logged (it often carries tokens), nor any header value but
 * the request id; credentials never appear.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import type { RouteMatch } from '../compile/types.js';

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

  constructor(start: number, requestId: string) {
    this.start = start;
    this.requestId = requestId;
  }
}

/** `AccessLog` is the writer; `enabled` is false for `--access-log off`. */
export class AccessLog {
  readonly enabled: boolean;
  readonly #out: Logger | undefined;

  constructor(destination: AccessLogDestination) {
    this.enabled = destination !== 'off';
    if (!this.enabled) return;
    this.#out = pino(
      { base: null, timestamp: false, messageKey: 'msg' },
      pino.destination({ dest: destination === 'stdout' ? 1 : destination, sync: false, mkdir: true }),
    );
  }

  /**
   * `track` writes `record`'s line when `res` closes. The status is what was sent; a response cut
   * before its headers (the client went away) is logged as nginx's 499.
   */
  track(req: IncomingMessage, res: ServerResponse, record: AccessRecord): void {
    const out = this.#out;
    if (out === undefined) return;
    res.once('close', () => {
      const target = req.url ?? '/';
      const query = target.indexOf('?');
      out.info({
        type: 'access',
        time: new Date().toISOString(),
        requestId: record.requestId,
        client: req.socket?.remoteAddress,
        method: req.method,
        host: req.headers.host ?? req.headers[':authority'],
        path: query === -1 ? target : target.slice(0, query),
        protocol: `HTTP/${req.httpVersion}`,
        status: res.headersSent ? res.statusCode : 499,
        bytes: record.bytes,
        durationMs: round(performance.now() - record.start),
        upstream: record.upstream,
        upstreamStatus: record.upstreamStatus,
        upstreamMs: record.upstreamMs === undefined ? undefined : round(record.upstreamMs),
        ingress: record.ingress,
        service: record.service,
      });
    });
  }

  /**
   * `begin` starts the record of one routed request, or returns undefined when no line is due:
   * the log is off, the ConfigMap turned it off, or the answering Ingress did.
   */
  begin(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    requestId: string,
    match: RouteMatch | undefined,
    live: boolean,
  ): AccessRecord | undefined {
    if (!this.enabled || !live || match?.policy.accessLog === false) return undefined;
    const record = new AccessRecord(start, requestId);
    record.ingress = match?.ingress;
    const backend = match?.backend;
    if (backend !== undefined) record.service = `${backend.namespace}/${backend.service}`;
    this.track(req, res, record);
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
