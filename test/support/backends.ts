/**
 * `backends` starts real HTTP backends for data-plane and end-to-end tests. Several loopback
 * addresses (127.0.0.2, 127.0.0.3, …) with one port stand in for several pods of one Service.
 *
 * Special paths are matched on the END of the path, so a backend behind `/api` answers
 * `/api/slow?ms=50` as it answers `/slow?ms=50`:
 * - `…/slow?ms=N`      waits N ms (capped at 60 s), then echoes
 * - `…/big?bytes=N`    streams N bytes (zeros, 64 KiB chunks, with Content-Length), honouring backpressure
 * - `…/upload`         counts and hashes the streamed request body without buffering, answers
 *                      `{ name, bodyBytes, sha256 }`
 * - `…/status/NNN`     answers status NNN with the echo body
 * - `…/reset`          destroys the socket without answering
 * - `…/stall?bytes=N`  sends headers promising 2N bytes, sends N, then stalls (until close())
 * - `…/early`          answers 200 at once without reading the request body
 * - `…/hang`           never answers (until close())
 * - anything else      echoes `{ name, method, url, headers, bodyBytes }` as JSON
 * - an Upgrade: websocket request is a WebSocket echo server (text and binary messages come back as
 *   sent); on `…/headers` the first message is the upgrade request as an `Echo` JSON
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface BackendOptions {
  /** Reported in every echo as `name`; defaults to `host:port`. */
  readonly name?: string;
  /** Loopback address to bind, e.g. `127.0.0.2`; default `127.0.0.1`. */
  readonly host?: string;
  /** Port to bind; default 0 (ephemeral). */
  readonly port?: number;
}

/** `Echo` is the JSON body the backend answers with. */
export interface Echo {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodyBytes: number;
}

export interface Backend {
  /** `http://host:port` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly name: string;
  /** Requests received so far (WebSocket upgrades included). */
  readonly requests: () => number;
  /** Open TCP connections right now. */
  readonly connections: () => number;
  /** Requests whose connection closed before their answer was complete (the proxy aborted them). */
  readonly aborted: () => number;
  /** Stops listening and destroys every open connection (hanging requests included). */
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024);
const MAX_SLOW_MS = 60_000;

/** `startBackend` starts one echo backend and resolves once it listens. */
export async function startBackend(opts: BackendOptions = {}): Promise<Backend> {
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let requestCount = 0;
  let abortedCount = 0;
  let name = opts.name ?? '';

  const server: Server = createServer({ keepAliveTimeout: 5_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
    requestCount++;
    res.once('close', () => {
      if (!res.writableFinished) abortedCount++;
    });
    handle(req, res);
  });
  const wss = new WebSocketServer({ noServer: true });

  function echo(req: IncomingMessage, res: ServerResponse, status = 200): void {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      const body: Echo = {
        name,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyBytes,
      };
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-backend': name,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
    req.on('error', () => res.destroy());
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://backend.invalid');
    const path = url.pathname;
    if (path.endsWith('/slow')) {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? '100') || 0, MAX_SLOW_MS);
      const timer = setTimeout(() => {
        timers.delete(timer);
        echo(req, res);
      }, ms);
      timers.add(timer);
      return;
    }
    if (path.endsWith('/big')) {
      const total = Math.max(0, Number(url.searchParams.get('bytes') ?? '0') || 0);
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': total,
        'x-backend': name,
      });
      let left = total;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, CHUNK.length);
          left -= n;
          const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
          if (!more) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    if (path.endsWith('/upload')) {
      let bodyBytes = 0;
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => {
        const text = JSON.stringify({ name, bodyBytes, sha256: hash.digest('hex') });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
      req.on('error', () => res.destroy());
      return;
    }
    const status = /\/status\/(\d{3})$/.exec(path);
    if (status?.[1]) {
      echo(req, res, Number(status[1]));
      return;
    }
    if (path.endsWith('/reset')) {
      req.socket.destroy();
      return;
    }
    if (path.endsWith('/stall')) {
      // Headers and half the promised body, then silence: for body-timeout and no-retry cases.
      const bytes = Math.max(1, Number(url.searchParams.get('bytes') ?? '1024') || 1024);
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': bytes * 2,
        'x-backend': name,
      });
      res.write(Buffer.alloc(bytes));
      return;
    }
    if (path.endsWith('/early')) {
      // Answers at once without reading the request body (like a 413 or an auth failure would).
      const text = JSON.stringify({ name, early: true });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path.endsWith('/hang')) {
      req.resume();
      return;
    }
    echo(req, res);
  }

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requestCount++;
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // `…/headers`: first message is the upgrade request as JSON (method, url, headers).
      if ((req.url ?? '').split('?')[0]?.endsWith('/headers')) {
        ws.send(
          JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, bodyBytes: 0 }),
        );
      }
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => ws.terminate());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  if (name === '') name = `${host}:${port}`;

  return {
    url: `http://${host}:${port}`,
    host,
    port,
    name,
    requests: () => requestCount,
    connections: () => sockets.size,
    aborted: () => abortedCount,
    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const client of wss.clients) client.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * `refusedPort` returns a loopback port that nothing listens on (bound, then released), for
 * connection-refused cases. Another process could take it in between; on 127.0.0.x this is rare.
 */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
