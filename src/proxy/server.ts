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
import { createServer, METHODS, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TlsOptions, Server as TlsServer } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ClientOptions } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { roundRobin } from './balancer.js';
import { badRequestBody, statusLine } from './errors.js';
import { Exchange, type ForwardSettings, hasRequestBody, sendBuiltIn } from './forward.js';
import { sendRedirect } from './redirect.js';
import { type ResolveContext, requestIdOf, resolveRequest } from './resolve.js';
import { handleUpgrade } from './websocket.js';

/** `ProxyServerDeps` wires the listener to the rest of the data plane. */
export interface ProxyServerDeps {
  readonly client: ClientOptions;
  readonly resolve: ResolveContext;
  readonly forward: ForwardSettings;
  readonly logger: Logger;
  /**
   * Given, the listener speaks TLS (node:https) with these options: the no-SNI certificate and the
   * SNICallback. The request handling is the same code either way.
   */
  readonly tls?: TlsOptions & SecureContextOptions;
}

/** `ProxyServer` is the built listener and what shutdown needs to drain it. */
export interface ProxyServer {
  readonly app: FastifyInstance;
  readonly server: Server;
  /** Every open client connection (keep-alive idle, busy, or upgraded). */
  readonly sockets: Set<Socket>;
  /** Client connections that became WebSocket tunnels. */
  readonly tunnels: Set<Duplex>;
  /** The same server seen as a TLS server, when `deps.tls` was given (for `setSecureContext`). */
  readonly tlsServer?: TlsServer;
}

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
  let server: Server | undefined;
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
        server = createServer(options, handler);
        return server;
      }
      const https = createHttpsServer({ ...options, ...deps.tls }, handler);
      tlsServer = https;
      server = https;
      return https;
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
  const httpServer: Server = server;

  for (const method of PROXIED_METHODS) app.addHttpMethod(method, { hasBody: false, overrideExisting: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const forward = deps.forward;
  const resolve = deps.resolve;

  const proxy = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const req = request.raw;
    const res: ServerResponse = reply.raw;
    try {
      const r = resolveRequest(req, resolve);
      if (!r.ok) {
        // Neither answer reads the request body: an unread one makes the connection unusable.
        const close = forward.draining() || (hasRequestBody(req) && !req.complete);
        if (r.location !== undefined) sendRedirect(res, r.status, r.location, r.requestId, close);
        else sendBuiltIn(res, r.status, r.body, r.requestId, close, r.hsts);
        return;
      }
      const first = roundRobin.first(r.backend.balancer, r.backend.upstreams.length, {
        clientAddress: r.peer,
        path: r.path,
      });
      new Exchange(
        {
          req,
          res,
          headers: r.headers,
          requestId: r.requestId,
          backend: r.backend,
          match: r.match,
          settings: r.settings,
          hsts: r.hsts,
        },
        forward,
        first,
      ).start();
    } catch (err) {
      // A bug, not bad input: never leak it to the client.
      deps.logger.error({ err, url: req.url }, 'proxy handler failed');
      sendBuiltIn(res, 500, `${statusLine(500)} — Portico internal error\n`, requestIdOf(req), true);
    }
  };

  app.route({ method: PROXIED_METHODS, url: '*', handler: proxy, exposeHeadRoute: false });
  // Targets the router cannot place (absolute-form, over-long) reach the same handler.
  app.setNotFoundHandler(proxy);

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
    });
  });

  await app.ready();
  return { app, server: httpServer, sockets, tunnels, ...(tlsServer !== undefined ? { tlsServer } : {}) };
}
