/**
 * `server` builds the proxy listener: Fastify with ONE catch-all handler that looks every
 * request up in the current snapshot (no Fastify route per Ingress path; routing lives in the
 * compiled snapshot, which swaps atomically).
 *
 * Bodies are never parsed or buffered: every HTTP method is declared body-less to Fastify (so
 * it never runs a content-type parser, never applies `bodyLimit`, never answers 415 for an odd
 * Content-Type) and the handler streams `req.raw` to the upstream. The body parsers are removed
 * and a passthrough parser is registered for every content type as a second line of defence.
 */
import { createServer, type IncomingMessage, METHODS, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TlsOptions, Server as TlsServer } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ClientOptions } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { applyToUpstream, type PolicyPass, type PolicyRefusal } from '../policy/chain.js';
import type { AccessLog, AccessRecord } from './access-log.js';
import { roundRobin } from './balancer.js';
import { answerPreflight } from './cors.js';
import { answerWithErrorPage, interceptedStatus } from './custom-errors.js';
import type { ProxyErrorCode } from './errors.js';
import { badRequestBody, statusLine } from './errors.js';
import { Exchange, type ForwardSettings, hasRequestBody, sendBuiltIn } from './forward.js';
import { gate, withHeaders } from './policy-gate.js';
import { acceptProxyHeaders, type ProxyProtocolGate } from './proxy-protocol-listener.js';
import { sendRedirect } from './redirect.js';
import { type Resolution, type ResolveContext, requestIdOf, resolveRequest } from './resolve.js';
import { responseShaping, withUpstreamHeaders } from './response-shaping.js';
import { handleUpgrade } from './websocket.js';

/** `ProxyServerDeps` wires the listener to the rest of the data plane. */
export interface ProxyServerDeps {
  readonly client: ClientOptions;
  readonly resolve: ResolveContext;
  readonly forward: ForwardSettings;
  readonly logger: Logger;
  /** Writes one line per request when on (the HTTP and HTTPS listeners share it). */
  readonly accessLog?: AccessLog;
  /**
   * Given, the listener speaks TLS with these options (the no-SNI certificate, the SNICallback,
   * the ALPNCallback): node:http2's server, which serves HTTP/2 and, for clients that do not
   * negotiate h2, HTTP/1.1 through node:http's own connection handling. The request handling is
   * the same code either way.
   */
  readonly tls?: TlsOptions & SecureContextOptions;
  /** Given, each connection may have to start with a PROXY protocol header (read before TLS). */
  readonly proxyProtocol?: ProxyProtocolGate;
}

/**
 * `ListenerServer` is what the data plane drives on either listener. node:http2's server with
 * `allowHTTP1` runs node:http's connection code for HTTP/1.1 and honours the same timeout
 * properties, but has no `closeAllConnections`.
 */
export interface ListenerServer extends NetServer {
  headersTimeout: number;
  keepAliveTimeout: number;
  /** node:http's per-connection request limit (0: none); the HTTP/2 server ignores it. */
  maxRequestsPerSocket: number | null;
  closeIdleConnections(): void;
  closeAllConnections?: () => void;
}

/** `ProxyServer` is the built listener and what shutdown needs to drain it. */
export interface ProxyServer {
  readonly app: FastifyInstance;
  readonly server: ListenerServer;
  /** Every open client connection (keep-alive idle, busy, upgraded, or HTTP/2). */
  readonly sockets: Set<Socket>;
  /** Open HTTP/2 sessions (TLS listener only), for GOAWAY on shutdown. */
  readonly sessions: Set<ServerHttp2Session>;
  /** Client connections that became WebSocket tunnels. */
  readonly tunnels: Set<Duplex>;
  /** The same server seen as a TLS server, when `deps.tls` was given (for `setSecureContext`). */
  readonly tlsServer?: TlsServer;
}

// Portico's own answers about the backend that `custom-http-errors` may replace (not 400s/404s).
const BACKEND_ERRORS: ReadonlySet<ProxyErrorCode> = new Set<ProxyErrorCode>([
  'PORTICO_ERR_NO_ENDPOINTS',
  'PORTICO_ERR_BACKEND_PROBLEM',
]);

// CONNECT is a forward-proxy method: Node routes it to the 'connect' event, which Portico does
// not handle (the socket is closed), as ingress-nginx answers it with 400/405.
const PROXIED_METHODS = METHODS.filter((m) => m !== 'CONNECT');

/**
 * Node's own client-error answers are JSON from Fastify by default; Portico answers in the same
 * text/plain style as its other built-in responses. 431 for oversized headers, 408 for a header
 * timeout, 400 for anything the parser refused.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  if (err.code === 'HPE_HEADER_OVERFLOW') status = 431;
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
  const reason =
    status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  const body = `${status} ${reason} — Portico could not read the request\n`;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `server: portico\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** `createProxyServer` builds the Fastify app on a node:http server it configures itself. */
export async function createProxyServer(deps: ProxyServerDeps): Promise<ProxyServer> {
  const c = deps.client;
  const sockets = new Set<Socket>();
  const tunnels = new Set<Duplex>();
  const sessions = new Set<ServerHttp2Session>();
  let server: ListenerServer | undefined;
  let tlsServer: TlsServer | undefined;

  const app = Fastify({
    serverFactory: (handler) => {
      const options = {
        headersTimeout: c.headerTimeoutMs,
        // Node's whole-request timeout would cut long uploads and downloads; idle timeouts guard instead.
        requestTimeout: 0,
        keepAliveTimeout: c.keepAliveTimeoutMs,
        maxHeaderSize: c.maxHeaderBytes,
        // headersTimeout is only checked this often: within a quarter of the limit, and at least
        // once a second, because the limit can shrink live (client-header-timeout) while the
        // interval is fixed at creation. The check walks the connection list: cheap.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(c.headerTimeoutMs / 4))),
      };
      if (deps.tls === undefined) {
        const http = createServer(options, handler);
        server = http;
        return http;
      }
      const secure = createSecureServer(
        {
          ...deps.tls,
          allowHTTP1: true,
          // HTTP/2's counterpart of maxHeaderSize (HPACK-decoded size of one header list).
          settings: { maxHeaderListSize: c.maxHeaderBytes },
          maxSessionInvalidFrames: 100,
        },
        // Fastify's handler takes either kind of request: it only routes on method and URL.
        handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
      );
      // The HTTP/2 server takes none of node:http's options for its HTTP/1.1 connections; its
      // constructor sets its own values, read again when a connection starts or is checked.
      // @types/node lacks closeIdleConnections on the HTTP/2 server; Node 20 has it (HTTP/1.1 only).
      const listener = Object.assign(secure, {
        headersTimeout: options.headersTimeout,
        requestTimeout: options.requestTimeout,
        keepAliveTimeout: options.keepAliveTimeout,
        maxHeaderSize: options.maxHeaderSize,
        connectionsCheckingInterval: options.connectionsCheckingInterval,
      }) as unknown as ListenerServer;
      secure.on('session', (session: ServerHttp2Session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
        // An idle HTTP/2 connection closes after the keep-alive timeout (GOAWAY), as HTTP/1.1 ones do.
        session.setTimeout(listener.keepAliveTimeout, () => session.close());
      });
      tlsServer = secure;
      server = listener;
      // Fastify types its raw request and reply as node:http's; the HTTP/2 compatibility objects
      // provide what the handler uses of them (forward.ts, http2.ts).
      return secure as unknown as Server;
    },
    // Bodies are streamed, never buffered by Fastify; the limit must not apply to anything.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: false,
    forceCloseConnections: false,
    requestIdHeader: false,
    // Portico's own X-Request-ID is computed in the handler; Fastify's id is unused.
    genReqId: () => '',
    clientErrorHandler,
    frameworkErrors: (err, request, reply) => {
      // e.g. FST_ERR_BAD_URL (malformed %-encoding seen by the router): same 400 as normalisation.
      reply.hijack();
      sendBuiltIn(
        reply.raw,
        400,
        badRequestBody(
          err.code === 'FST_ERR_BAD_URL' ? 'invalid percent-encoding in request path' : 'malformed request',
        ),
        requestIdOf(request.raw),
        true,
      );
    },
  });
  if (server === undefined) throw new Error('Fastify did not call serverFactory');
  const httpServer: ListenerServer = server;

  for (const method of PROXIED_METHODS) app.addHttpMethod(method, { hasBody: false, overrideExisting: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const forward = deps.forward;
  const accessLog = deps.accessLog;
  const resolve = deps.resolve;

  /** Sends a resolved request on: a built-in answer, or the upstream exchange. */
  const proceed = (
    req: IncomingMessage,
    res: ServerResponse,
    r: Resolution,
    record: AccessRecord | undefined,
    pass: PolicyPass | undefined,
  ): void => {
    if (pass?.release !== undefined) {
      // The client may have left while a policy step waited: 'close' has fired already then.
      if (res.destroyed) pass.release();
      else res.once('close', pass.release);
    }
    if (!r.ok) {
      if (record !== undefined && req.method !== 'HEAD' && r.location === undefined)
        record.bytes = Buffer.byteLength(r.body);
      // Neither answer reads the request body: an unread one makes the connection unusable.
      const close = forward.draining() || (hasRequestBody(req) && !req.complete);
      if (r.location !== undefined) sendRedirect(res, r.status, r.location, r.requestId, close, r.hsts);
      else if (r.match !== undefined && BACKEND_ERRORS.has(r.code) && interceptedStatus(r.match, r.status)) {
        // `custom-http-errors` listing 503: the error backend tells "no ready endpoints" too.
        const settings = resolve.settings();
        answerWithErrorPage({
          req,
          res,
          match: r.match,
          status: r.status,
          requestId: r.requestId,
          upstreamHeaders: ['host', r.host ?? ''],
          hsts: r.hsts,
          extra: withHeaders(pass?.responseHeaders, pass?.headersForStatus?.(r.status)),
          shaping: responseShaping(req, r.match.policy, settings.responseHeaders, settings.hideHeaders),
          close: req.httpVersionMajor !== 2 && close,
          readTimeoutMs: settings.upstream.readTimeoutMs,
          endpoints: (key) => forward.currentEndpoints(key),
          logger: deps.logger,
        });
      } else {
        const extra = withHeaders(
          withHeaders(withHeaders(r.hsts, pass?.responseHeaders), pass?.headersForStatus?.(r.status)),
          responseShaping(req, r.match?.policy, resolve.settings().responseHeaders)?.headers,
        );
        sendBuiltIn(res, r.status, r.body, r.requestId, close, extra);
      }
      return;
    }
    if (res.destroyed) return; // the client left while a policy step waited
    const first =
      r.balancing === undefined
        ? roundRobin.first(r.backend.balancer, r.backend.upstreams.length, {
            clientAddress: r.peer,
            path: r.path,
          })
        : r.balancing.first(r.backend);
    new Exchange(
      {
        req,
        res,
        headers: withUpstreamHeaders(
          pass === undefined ? r.headers : applyToUpstream(r.headers, pass),
          r.settings.requestHeaders,
        ),
        requestId: r.requestId,
        backend: r.backend,
        match: r.match,
        settings: r.settings,
        hsts: r.hsts,
        extraHeaders: pass?.responseHeaders,
        headersForStatus: pass?.headersForStatus,
        record,
        upstreamTarget: r.upstreamTarget,
        balancing: r.balancing,
        shaping: responseShaping(req, r.match.policy, r.settings.responseHeaders, r.settings.hideHeaders),
      },
      forward,
      first,
    ).start();
  };

  /** Answers a request a policy refused. */
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    r: Resolution,
    record: AccessRecord | undefined,
    refusal: PolicyRefusal,
  ): void => {
    if (refusal.release !== undefined) {
      if (res.destroyed) refusal.release();
      else res.once('close', refusal.release);
    }
    if (record !== undefined && req.method !== 'HEAD') record.bytes = Buffer.byteLength(refusal.body);
    const close = forward.draining() || (hasRequestBody(req) && !req.complete);
    sendBuiltIn(
      res,
      refusal.status,
      refusal.body,
      r.requestId,
      close,
      withHeaders(
        withHeaders(r.location === undefined ? r.hsts : undefined, refusal.headers),
        responseShaping(req, r.match?.policy, resolve.settings().responseHeaders)?.headers,
      ),
    );
  };

  const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    // A bug, not bad input: never leak it to the client.
    deps.logger.error({ err, url: req.url }, 'proxy handler failed');
    sendBuiltIn(res, 500, `${statusLine(500)} — Portico internal error\n`, requestIdOf(req), true);
  };

  const proxy = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const req = request.raw;
    const res: ServerResponse = reply.raw;
    const started = accessLog?.tracks === true ? performance.now() : 0;
    try {
      const r = resolveRequest(req, resolve);
      const record =
        accessLog?.tracks === true
          ? accessLog.begin(req, res, started, r.requestId, r.match, resolve.settings().accessLog)
          : undefined;
      // Step (1) of the hook order: a CORS preflight needs neither credentials nor the backend.
      const closing = forward.draining() || (hasRequestBody(req) && !req.complete);
      if (answerPreflight(req, res, r, closing, resolve.settings().responseHeaders)) return;
      const verdict = gate(req, r, resolve);
      if (verdict === undefined) proceed(req, res, r, record, undefined);
      else if (verdict instanceof Promise) {
        verdict.then(
          (v) => (v.pass ? proceed(req, res, r, record, v) : refuse(req, res, r, record, v)),
          (err: unknown) => failed(req, res, err),
        );
      } else if (verdict.pass) proceed(req, res, r, record, verdict);
      else refuse(req, res, r, record, verdict);
    } catch (err) {
      failed(req, res, err);
    }
  };

  app.route({ method: PROXIED_METHODS, url: '*', handler: proxy, exposeHeadRoute: false });
  // Targets the router cannot place (absolute-form, over-long) reach the same handler.
  app.setNotFoundHandler(proxy);

  // Before the tracking below: it must see a connection at accept, header or not.
  if (deps.proxyProtocol !== undefined) acceptProxyHeaders(httpServer, deps.proxyProtocol);
  httpServer.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  httpServer.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    handleUpgrade(req, socket, head, {
      resolve,
      logger: deps.logger,
      draining: forward.draining,
      tunnels,
      requests: accessLog?.requests,
    });
  });

  await app.ready();
  return {
    app,
    server: httpServer,
    sockets,
    tunnels,
    sessions,
    ...(tlsServer !== undefined ? { tlsServer } : {}),
  };
}
