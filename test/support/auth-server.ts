/**
 * `auth-server` is a small oauth2-proxy-like auth service on 127.0.0.1 for external-auth tests.
 * It knows sessions by token, presented as the `_oauth2_proxy` cookie (browsers) or as
 * `Authorization: Bearer <token>` (API clients), and records every request it saw.
 *
 * - `/oauth2/auth`      202 with `X-Auth-Request-User` / `X-Auth-Request-Email` for a known token;
 *                       a cookie session also gets its cookie refreshed (`Set-Cookie`), as
 *                       oauth2-proxy does, a bearer token does not; 403 for a forbidden user;
 *                       401 with `WWW-Authenticate: Bearer realm="test"` and a body otherwise
 *                       (plus a `Set-Cookie` clearing the cookie when an unknown one was sent).
 *                       `?cache-control=V` adds `Cache-Control: V` to the answer.
 * - `/status/NNN`       answers status NNN (with a body)
 * - `/big`              202 with a 1 MiB body
 * - `/boom`             500
 * - `/slow`             never answers (until close())
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** `AuthUser` is one session the server accepts. */
export interface AuthUser {
  readonly user: string;
  readonly email: string;
  /** Known but not allowed: answers 403. */
  readonly forbidden?: boolean;
}

/** `SeenRequest` is one request as the auth server received it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
}

export interface AuthServer {
  /** `http://127.0.0.1:port` */
  readonly url: string;
  readonly port: number;
  /** Every request received so far, in order (complete once its body was read). */
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export const SESSION_COOKIE = '_oauth2_proxy';
const BIG = Buffer.alloc(1024 * 1024, 0x61);

function tokenOf(req: IncomingMessage): { token: string; via: 'cookie' | 'bearer' } | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined && /^bearer /i.test(auth)) return { token: auth.slice(7).trim(), via: 'bearer' };
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === SESSION_COOKIE) {
      return { token: pair.slice(eq + 1).trim(), via: 'cookie' };
    }
  }
  return undefined;
}

function answer(req: IncomingMessage, res: ServerResponse, users: ReadonlyMap<string, AuthUser>): void {
  const url = new URL(req.url ?? '/', 'http://auth.test');
  const path = url.pathname;
  if (path === '/slow') return; // never answered; close() destroys the socket
  if (path === '/boom') {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('boom\n');
    return;
  }
  if (path === '/big') {
    res.writeHead(202, { 'content-type': 'text/plain', 'x-auth-request-user': 'big' }).end(BIG);
    return;
  }
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status !== null) {
    res.writeHead(Number(status[1]), { 'content-type': 'text/plain', location: '/elsewhere' });
    res.end(`status ${status[1]}\n`);
    return;
  }
  if (path !== '/oauth2/auth') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const extra: string[] = [];
  const cacheControl = url.searchParams.get('cache-control');
  if (cacheControl !== null) extra.push('cache-control', cacheControl);
  const presented = tokenOf(req);
  const user = presented === undefined ? undefined : users.get(presented.token);
  if (presented === undefined || user === undefined) {
    const headers = ['www-authenticate', 'Bearer realm="test"', 'content-type', 'text/plain', ...extra];
    // An unknown session cookie is cleared, as oauth2-proxy clears a stale one.
    if (presented?.via === 'cookie') headers.push('set-cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0`);
    res.writeHead(401, headers);
    res.end('unauthorized: secret detail from the auth service\n');
    return;
  }
  if (user.forbidden === true) {
    res.writeHead(403, ['content-type', 'text/plain', ...extra]).end('forbidden detail\n');
    return;
  }
  const headers = ['x-auth-request-user', user.user, 'x-auth-request-email', user.email, ...extra];
  if (presented.via === 'cookie') {
    headers.push(
      'set-cookie',
      `${SESSION_COOKIE}=${presented.token}; Path=/; HttpOnly`,
      'set-cookie',
      'csrf=1; Path=/',
    );
  }
  res.writeHead(202, headers).end('accepted body\n');
}

/** `startAuthServer` listens on 127.0.0.1 on an ephemeral port. */
export async function startAuthServer(users: Readonly<Record<string, AuthUser>>): Promise<AuthServer> {
  const known = new Map(Object.entries(users));
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes,
      });
      answer(req, res, known);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
