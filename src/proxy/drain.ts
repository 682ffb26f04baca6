/**
 * `drain` is the connection-draining half of shutdown: stop accepting, close idle keep-alive
 * connections as they become idle, give busy ones until the deadline, then force-close.
 */
import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenerServer } from './server.js';

const POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `DrainResult` reports what draining had to force. */
export interface DrainResult {
  readonly forced: number;
}

/**
 * `drainServer` closes the listener and waits until every connection in `sockets` is gone or
 * `timeoutMs` passed; then it destroys what remains (tunnels included). Node's `server.close()`
 * only closes connections idle at that moment, so connections that finish a response later are
 * closed on the next poll (they also got `Connection: close`, so most close themselves). HTTP/2
 * sessions get GOAWAY at once (Node 20's `close()` does not send it): their streams in flight
 * finish, no new ones start, and the session closes when the last one ends.
 */
export async function drainServer(
  server: ListenerServer,
  sockets: Set<Socket>,
  tunnels: Set<Duplex>,
  timeoutMs: number,
  sessions: ReadonlySet<ServerHttp2Session> = new Set(),
): Promise<DrainResult> {
  const closed = server.listening
    ? new Promise<void>((resolve) => server.close(() => resolve()))
    : Promise.resolve();
  server.closeIdleConnections();
  for (const session of sessions) session.close();
  const deadline = Date.now() + timeoutMs;
  // Bounded: at most timeoutMs / POLL_MS rounds.
  while (sockets.size > 0 && Date.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    server.closeIdleConnections();
  }
  const forced = sockets.size;
  if (forced > 0) {
    server.closeAllConnections?.();
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    for (const tunnel of tunnels) tunnel.destroy();
  }
  await closed;
  return { forced };
}
