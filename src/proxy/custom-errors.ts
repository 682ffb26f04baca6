/**
 * `custom-errors` is the request-time half of `custom-http-errors`: when the backend's status line
 * is one of the route's codes, `forward.ts` discards that response (nothing of it reached the
 * client) and calls `answerWithErrorPage`, which asks the error backend (`default-backend`
 * annotation, else `--default-backend-service`) the way ingress-nginx's `@custom_…` locations do —
 * `GET /` (HEAD stays HEAD) with `X-Code`, `X-Format`, `X-Original-URI`, `X-Namespace`,
 * `X-Ingress-Name`, `X-Service-Name`, `X-Service-Port` and `X-Request-ID` — and relays its status,
 * headers and body. No error backend, or one that fails before answering: Portico's built-in page
 * for the original status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../compile/types.js';
import type { Logger } from '../log/logger.js';
import { roundRobin } from './balancer.js';
import { statusLine } from './errors.js';
import { buildResponseHeaders } from './hop-by-hop.js';
import type { ResponseShaping } from './response-shaping.js';
import type { BackendUpstreams, UpstreamRegistry } from './upstreams.js';

/** `interceptedStatus` says whether the route answers `status` from its error backend. */
export function interceptedStatus(match: RouteMatch, status: number): boolean {
  const codes = match.policy.customErrors?.codes;
  return codes !== undefined && codes.length > 0 && codes.includes(status);
}

// Request headers that describe the original body, which the error request does not carry.
const BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'expect',
  'x-code',
  'x-format',
  'x-original-uri',
  'x-namespace',
  'x-ingress-name',
  'x-service-name',
  'x-service-port',
  'x-request-id',
]);

/** `errorRequestHeaders` are the headers sent to the error backend (flat `[name, value, …]`). */
export function errorRequestHeaders(
  upstreamHeaders: readonly string[],
  req: IncomingMessage,
  match: RouteMatch,
  status: number,
  requestId: string,
): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < upstreamHeaders.length; i += 2) {
    const name = upstreamHeaders[i] as string;
    if (BODY_HEADERS.has(name.toLowerCase())) continue;
    out.push(name, upstreamHeaders[i + 1] as string);
  }
  const ingress = match.ingress ?? '';
  const slash = ingress.indexOf('/');
  const accept = req.headers.accept;
  out.push(
    'x-code',
    String(status),
    'x-format',
    typeof accept === 'string' ? accept : '',
    'x-original-uri',
    req.url ?? '/',
    'x-namespace',
    slash === -1 ? '' : ingress.slice(0, slash),
    'x-ingress-name',
    slash === -1 ? ingress : ingress.slice(slash + 1),
    'x-service-name',
    match.backend?.service ?? '',
    'x-service-port',
    String(match.backend?.port ?? ''),
    'x-request-id',
    requestId,
  );
  return out;
}

/** `ErrorPageRequest` is one intercepted response, to be answered by the error backend. */
export interface ErrorPageRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly match: RouteMatch;
  /** The backend's status that was intercepted. */
  readonly status: number;
  readonly requestId: string;
  /** The headers the original request went upstream with. */
  readonly upstreamHeaders: readonly string[];
  readonly hsts?: readonly string[] | undefined;
  readonly extra?: readonly string[] | undefined;
  readonly shaping?: ResponseShaping | undefined;
  /** The client connection cannot be reused (unread body, draining). */
  readonly close: boolean;
  readonly readTimeoutMs: number;
  /** The live endpoint set of a backend key. */
  readonly endpoints: (backendKey: string) => BackendUpstreams | undefined;
  readonly logger: Logger;
}

/** `answerWithErrorPage` answers an intercepted response; see the module comment. */
export function answerWithErrorPage(p: ErrorPageRequest): void {
  const backend = p.match.policy.customErrors?.backend;
  const set = backend === undefined || backend.problem !== undefined ? undefined : p.endpoints(backend.key);
  if (set === undefined || set.upstreams.length === 0) {
    builtInPage(p);
    return;
  }
  const index = roundRobin.first(set.balancer, set.upstreams.length, { clientAddress: '', path: '/' });
  const upstream = set.upstreams[index];
  if (upstream === undefined) {
    builtInPage(p);
    return;
  }
  const handler = new ErrorPageExchange(p, set.backendKey);
  upstream.pool.dispatch(
    {
      path: '/',
      method: p.req.method === 'HEAD' ? 'HEAD' : 'GET',
      headers: errorRequestHeaders(p.upstreamHeaders, p.req, p.match, p.status, p.requestId),
      body: null,
      headersTimeout: p.readTimeoutMs,
      bodyTimeout: p.readTimeoutMs,
      servername: upstream.servername,
    } as Dispatcher.DispatchOptions,
    handler,
  );
}

function builtInPage(p: ErrorPageRequest): void {
  const { res } = p;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${statusLine(p.status)}\n`;
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'server',
    'portico',
    'x-request-id',
    p.requestId,
  ];
  if (p.hsts !== undefined) headers.push(...p.hsts);
  if (p.extra !== undefined) headers.push(...p.extra);
  if (p.shaping !== undefined) headers.push(...p.shaping.headers);
  if (p.close && p.req.httpVersionMajor !== 2) headers.push('connection', 'close');
  res.writeHead(p.status, headers);
  res.end(p.req.method === 'HEAD' ? undefined : body);
}

/** The error backend's exchange: one attempt, streamed to the client. */
class ErrorPageExchange implements Dispatcher.DispatchHandler {
  readonly #p: ErrorPageRequest;
  readonly #backendKey: string;
  #abort: ((err?: Error) => void) | undefined;
  #responded = false;
  #done = false;
  #resume: (() => void) | undefined;

  constructor(p: ErrorPageRequest, backendKey: string) {
    this.#p = p;
    this.#backendKey = backendKey;
    p.res.once('close', this.#onClientClose);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#p.res.destroyed) abort();
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    const p = this.#p;
    this.#resume = resume;
    const headers = buildResponseHeaders(rawHeaders, {
      requestId: p.requestId,
      closeConnection: p.close && p.req.httpVersionMajor !== 2,
      hsts: p.hsts,
      extra: p.shaping === undefined ? p.extra : [...(p.extra ?? []), ...p.shaping.headers],
      replace: p.shaping?.replace,
    });
    try {
      p.res.writeHead(statusCode, headers);
    } catch {
      this.#abort?.(new Error('invalid error backend response header'));
      return false;
    }
    this.#responded = true;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#p.res.write(chunk)) return true;
    this.#p.res.once('drain', () => this.#resume?.());
    return false;
  }

  onComplete(): void {
    this.#done = true;
    this.#p.res.off('close', this.#onClientClose);
    this.#p.res.end();
  }

  onError(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    const p = this.#p;
    p.res.off('close', this.#onClientClose);
    if (p.res.destroyed) return;
    p.logger.warn(
      { ingress: p.match.ingress, backend: this.#backendKey, err: err.message, requestId: p.requestId },
      'error backend failed; answering with the built-in page',
    );
    if (this.#responded) p.res.destroy();
    else builtInPage(p);
  }

  readonly #onClientClose = (): void => {
    if (!this.#done) this.#abort?.();
  };
}

/**
 * `fallbackBackend` is the `default-backend` annotation's endpoint set, used instead of a route
 * backend that has no ready endpoints (as ingress-nginx does); undefined when the route has no
 * such annotation or the default backend has no endpoints either.
 */
export function fallbackBackend(
  match: RouteMatch,
  upstreams: UpstreamRegistry,
): BackendUpstreams | undefined {
  const errors = match.policy.customErrors;
  if (errors?.fallback !== true || errors.backend === undefined || errors.backend.problem !== undefined) {
    return undefined;
  }
  const set = upstreams.backend(errors.backend.key);
  return set === undefined || set.upstreams.length === 0 ? undefined : set;
}
