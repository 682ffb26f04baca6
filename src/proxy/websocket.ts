/**
 * `websocket` proxies HTTP/1.1 Upgrade requests (WebSocket). Fastify does not see them: Node
 * emits the server's 'upgrade' event instead of 'request'. Routing, normalisation and forwarded
 * headers are the same as for plain requests (`resolveRequest`).
 *
 * The upstream side is a raw TCP socket, not an undici pool: after the 101 the connection is no
 * longer HTTP, belongs to this one client, and never returns to a pool. Portico writes the
 * request head itself and then relays bytes both ways, including the upstream's 101 (or error)
 * response; either side closing or failing closes both. The headers Portico adds to a plain
 * response — the affinity cookie, CORS, `custom-headers`/`add-headers`, HSTS, the auth service's
 * cookies — go into that response head too, as nginx's header filters add them to a 101.
 */
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as connectTls } from 'node:tls';
import type { RouteMatch } from '../compile/types.js';
import type { Logger } from '../log/logger.js';
import type { RequestMetrics } from '../metrics/requests.js';
import { applyToUpstream, type PolicyResult } from '../policy/chain.js';
import { attemptIndex, roundRobin } from './balancer.js';
import { badRequestBody, statusLine, upstreamErrorBody } from './errors.js';
import { gate, withHeaders } from './policy-gate.js';
import { rawRedirect } from './redirect.js';
import { type Resolution, type ResolveContext, requestIdOf, resolveRequest, routeLabel } from './resolve.js';
import { responseShaping, withUpstreamHeaders } from './response-shaping.js';
import { classifyUpstreamError, errorCodeOf } from './upstream-errors.js';
import type { Upstream } from './upstreams.js';

/** `UpgradeSettings` is what the upgrade path needs from the data plane. */
export interface UpgradeSettings {
  readonly resolve: ResolveContext;
  readonly logger: Logger;
  readonly draining: () => boolean;
  /** Upgraded connections (client side) are tracked so shutdown can force-close them. */
  readonly tunnels: Set<Duplex>;
  /**
   * Per-request metrics: an upgrade counts once, when the upstream's response head arrives (its
   * status, usually 101) or when Portico answers instead. The tunnel's lifetime and bytes are not
   * request latency or body bytes, and are left out.
   */
  readonly requests?: RequestMetrics | undefined;
}

/** `writeRawResponse` answers on a socket that left HTTP handling (upgrade path), then closes it. */
export function writeRawResponse(
  socket: Duplex,
  status: number,
  body: string,
  requestId: string,
  headers?: readonly string[],
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const length = Buffer.byteLength(body);
  let extra = '';
  // Header values come from Portico itself (policy answers), never from the request: no CR/LF.
  for (let i = 0; headers !== undefined && i + 1 < headers.length; i += 2)
    extra += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(
    `HTTP/1.1 ${statusLine(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${length}\r\n` +
      `server: portico\r\nx-request-id: ${requestId}\r\n${extra}connection: close\r\n\r\n${body}`,
  );
}

const NOTHING: ReadonlySet<string> = new Set();

/**
 * `relayWithHeaders` reads the upstream's response head, writes it to the client with the headers
 * `extra(status)` gives, then relays everything else as it comes.
 */
function relayWithHeaders(
  socket: Socket,
  client: Duplex,
  extra: (status: number) => readonly string[],
  replace: ReadonlySet<string>,
  tooLarge: () => void,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buffered.length > MAX_RESPONSE_HEAD) {
        socket.off('data', onData);
        tooLarge();
      }
      return;
    }
    socket.off('data', onData);
    const head = buffered.toString('latin1', 0, end + 4);
    client.write(withResponseHeaders(head, extra(responseStatus(buffered)), replace), 'latin1');
    if (buffered.length > end + 4) client.write(buffered.subarray(end + 4));
    socket.pipe(client);
  };
  socket.on('data', onData);
}

/** `handleUpgrade` is the server's 'upgrade' listener. */
export function handleUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, s: UpgradeSettings): void {
  const started = performance.now();
  const observe = (match: RouteMatch | undefined, status: number, upstreamStart: number): void =>
    s.requests?.observe(
      match,
      req.method,
      status,
      (performance.now() - started) / 1_000,
      upstreamStart < 0 ? -1 : (performance.now() - upstreamStart) / 1_000,
      0,
      0,
    );
  client.on('error', () => client.destroy());
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
    writeRawResponse(client, 400, badRequestBody('only WebSocket upgrades are supported'), requestIdOf(req));
    observe(undefined, 400, -1);
    return;
  }
  if (s.draining()) {
    writeRawResponse(client, 503, `${statusLine(503)} — Portico is shutting down\n`, requestIdOf(req));
    observe(undefined, 503, -1);
    return;
  }
  const r = resolveRequest(req, s.resolve, upgrade);
  const verdict = gate(req, r, s.resolve);
  if (verdict === undefined) tunnel(req, client, head, s, r, undefined, observe);
  else if (verdict instanceof Promise) {
    verdict.then(
      (v) => tunnel(req, client, head, s, r, v, observe),
      (err: unknown) => {
        s.logger.error({ err, url: req.url }, 'upgrade policy check failed');
        writeRawResponse(client, 500, `${statusLine(500)} — Portico internal error\n`, r.requestId);
        observe(r.match, 500, -1);
      },
    );
  } else tunnel(req, client, head, s, r, verdict, observe);
}

/** Counts one upgrade in the request metrics: the answer's status and the upstream's start (-1: none). */
type ObserveUpgrade = (match: RouteMatch | undefined, status: number, upstreamStart: number) => void;

function tunnel(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  s: UpgradeSettings,
  r: Resolution,
  verdict: PolicyResult | undefined,
  observe: ObserveUpgrade,
): void {
  if (verdict?.release !== undefined) {
    if (client.destroyed) verdict.release();
    else client.once('close', verdict.release);
  }
  if (verdict !== undefined && !verdict.pass) {
    writeRawResponse(client, verdict.status, verdict.body, r.requestId, verdict.headers);
    observe(r.match, verdict.status, -1);
    return;
  }
  if (!r.ok) {
    observe(r.match, r.status, -1);
    if (r.location !== undefined) {
      // The same redirect as without Upgrade: clients that follow it reconnect with wss://.
      if (client.writable) client.end(rawRedirect(r.status, r.location, r.requestId));
      else client.destroy();
    } else writeRawResponse(client, r.status, r.body, r.requestId);
    return;
  }
  if (client.destroyed) return;
  const headers = withUpstreamHeaders(
    verdict === undefined ? r.headers : applyToUpstream(r.headers, verdict),
    r.settings.requestHeaders,
  );
  const set = r.backend;
  const upstreamSettings = r.settings.upstream;
  const count = set.upstreams.length;
  const first =
    r.balancing === undefined
      ? roundRobin.first(set.balancer, count, { clientAddress: r.peer, path: r.path })
      : r.balancing.first(set);
  const maxAttempts = Math.max(1, Math.min(upstreamSettings.maxTries, count));
  const shaping = responseShaping(req, r.match.policy, r.settings.responseHeaders, r.settings.hideHeaders);
  const fixedExtra = withHeaders(withHeaders(r.hsts, verdict?.responseHeaders), shaping?.headers);
  const replace = shaping?.replace ?? NOTHING;
  let lines = `${req.method ?? 'GET'} ${r.upstreamTarget ?? req.url ?? '/'} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
  const requestHead = lines + '\r\n';

  s.tunnels.add(client);
  client.once('close', () => s.tunnels.delete(client));

  const attempt = (n: number): void => {
    if (client.destroyed) return;
    const upstream = set.upstreams[attemptIndex(first, n, count)] as Upstream;
    const tls = upstream.transport?.tls;
    // HTTPS/GRPCS backends get the upgrade over TLS with the transport's SNI and verification.
    const socket: Socket =
      tls === undefined
        ? connect({ host: upstream.endpoint.address, port: upstream.endpoint.port })
        : connectTls({
            host: upstream.endpoint.address,
            port: upstream.endpoint.port,
            ALPNProtocols: ['http/1.1'],
            rejectUnauthorized: tls.verify,
            ...(tls.ca !== undefined ? { ca: tls.ca.pem } : {}),
            ...(tls.sni !== undefined ? { servername: tls.sni } : {}),
            checkServerIdentity: (_host, cert) => checkServerIdentity(tls.checkName, cert),
          });
    let connected = false;
    socket.setTimeout(upstreamSettings.connectTimeoutMs, () => {
      socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    });
    const onClientGone = (): void => {
      socket.destroy();
    };
    client.once('close', onClientGone);
    socket.once('error', (err) => {
      if (connected) {
        client.destroy();
        return;
      }
      client.off('close', onClientGone);
      const row = classifyUpstreamError(err);
      if (n + 1 < maxAttempts && !client.destroyed) {
        attempt(n + 1);
        return;
      }
      s.logger.warn(
        {
          route: routeLabel(r.match),
          backend: set.backendKey,
          upstream: upstream.key,
          code: row.code,
          errorCode: errorCodeOf(err) || undefined,
          status: row.status,
          attempts: n + 1,
          requestId: r.requestId,
          websocket: true,
        },
        `upstream ${row.what}`,
      );
      writeRawResponse(
        client,
        row.status,
        upstreamErrorBody(row.status, set.backendKey, row.what),
        r.requestId,
      );
      observe(r.match, row.status, -1);
    });
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      connected = true;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      // rawHeaders are latin1-decoded strings: write them back byte for byte.
      socket.write(requestHead, 'latin1');
      if (head.length > 0) socket.write(head);
      const dispatched = performance.now();
      const cookie = r.balancing?.responseHeaders?.(set, upstream);
      // Set when Portico answers the client itself: the upstream's close must not cut that answer.
      let answered = false;
      if (fixedExtra === undefined && cookie === undefined && verdict?.headersForStatus === undefined) {
        if (s.requests !== undefined) {
          socket.once('data', (chunk: Buffer) => observe(r.match, responseStatus(chunk), dispatched));
        }
        socket.pipe(client);
      } else {
        relayWithHeaders(
          socket,
          client,
          (status) => {
            if (s.requests !== undefined) observe(r.match, status, dispatched);
            return withHeaders(withHeaders(fixedExtra, verdict?.headersForStatus?.(status)), cookie) ?? [];
          },
          replace,
          () => {
            answered = true;
            s.logger.warn(
              { route: routeLabel(r.match), upstream: upstream.key, requestId: r.requestId, websocket: true },
              `upstream response head larger than ${MAX_RESPONSE_HEAD} bytes`,
            );
            const what = 'sent too large a response head';
            writeRawResponse(client, 502, upstreamErrorBody(502, set.backendKey, what), r.requestId);
            observe(r.match, 502, dispatched);
            client.unpipe(socket);
            socket.destroy();
          },
        );
      }
      client.pipe(socket);
      socket.once('close', () => {
        if (!answered) client.destroy();
      });
    });
  };
  attempt(0);
}

/**
 * `responseStatus` reads the status code of the response head starting `chunk` (`HTTP/1.1 101 …`);
 * 502 when the upstream sent something else, as it would be answered had Portico parsed it.
 */
export function responseStatus(chunk: Buffer): number {
  if (chunk.length < 12 || chunk.toString('latin1', 0, 5) !== 'HTTP/') return 502;
  const status = Number(chunk.toString('latin1', 9, 12));
  return Number.isInteger(status) && status >= 100 ? status : 502;
}

/** The upstream's response head is read whole before headers are added; past this it is refused. */
export const MAX_RESPONSE_HEAD = 64 * 1024;

/**
 * `withResponseHeaders` rewrites a response head (`HTTP/1.1 101 …\r\n…\r\n\r\n`, latin1): the
 * upstream's headers named in `replace` (lowercase) are dropped and the `add` pairs appended.
 */
export function withResponseHeaders(
  head: string,
  add: readonly string[],
  replace: ReadonlySet<string>,
): string {
  const lines = head.slice(0, head.length - 4).split('\r\n');
  let out = lines[0] ?? '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon > 0 && replace.has(line.slice(0, colon).trim().toLowerCase())) continue;
    out += `\r\n${line}`;
  }
  for (let i = 0; i + 1 < add.length; i += 2) out += `\r\n${add[i]}: ${add[i + 1]}`;
  return `${out}\r\n\r\n`;
}
