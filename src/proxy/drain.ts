/**
 * `drain` is the connection-draining half of shutdown: stop accepting, close idle keep-alive
 * connections as they become idle, give busy ones until the deadline, then force-close.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

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
 * closed on the next poll (they also got `Connection: close`, so most close themselves).
 */
export async function drainServer(
  server: Server,
  sockets: Set<Socket>,
  tunnels: Set<Duplex>,
  timeoutMs: number,
): Promise<DrainResult> {
  const closed = server.listening
    ? new Promise<void>((resolve) => server.close(() => resolve()))
    : Promise.resolve();
  server.closeIdleConnections();
  const deadline = Date.now() + timeoutMs;
  // Bounded: at most timeoutMs / POLL_MS rounds.
  while (sockets.size > 0 && Date.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    server.closeIdleConnections();
  }
  const forced = sockets.size;
  if (forced > 0) {
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    for (const tunnel of tunnels) tunnel.destroy();
  }
  await closed;
  return { forced };
}
