/**
 * `proxy-protocol-listener` puts the PROXY protocol in front of a listener (ingress-nginx's
 * `use-proxy-protocol`): while it is on, every accepted TCP connection must start with a PROXY
 * header (v1 or v2, `proxy-protocol.ts`), read on the raw socket before anything else sees a byte;
 * the HTTPS listener's TLS ClientHello comes after it. The connection then goes on to the server's
 * own connection handling (node:http's parser, node:tls's handshake) as if it had just been
 * accepted, and the header's source address becomes its client address (`peerAddress`).
 *
 * A missing or malformed header, or none within the header timeout, closes the connection, as
 * nginx does: the balancer in front is misconfigured or the peer is not the balancer, and neither
 * gets an answer. UNKNOWN and LOCAL headers (health checks) keep the TCP peer.
 *
 * The server's 'connection' listeners are taken over: Node's own connection handlers are called
 * once the header is read, and those added afterwards (Portico's socket tracking) run at accept,
 * so shutdown sees a connection whose header is still on its way.
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import { clientAddress, setProxiedPeer } from './forwarded-headers.js';
import { type ProxyHeader, ProxyHeaderReader } from './proxy-protocol.js';

/** `ProxyHeaderRejection` is why a connection was closed, a bounded metric label. */
export type ProxyHeaderRejection = 'invalid' | 'timeout' | 'closed';

/** `ProxyProtocolGate` is what the listener reads for each accepted connection. */
export interface ProxyProtocolGate {
  /** Read at each accept: a ConfigMap change applies to connections accepted afterwards. */
  readonly enabled: () => boolean;
  /** Time the peer has, from accept, to send the complete header. */
  readonly headerTimeoutMs: () => number;
  readonly logger: Logger;
  /** Called once for each connection closed over its header. */
  readonly onRejected?: (reason: ProxyHeaderRejection) => void;
}

type ConnectionHandler = (this: NetServer, socket: Socket) => void;

/**
 * `acceptProxyHeaders` makes `server` read a PROXY header on each new connection while
 * `gate.enabled()` says so; call it after the server is created and before other 'connection'
 * listeners that must see connections at accept (see the module comment).
 */
export function acceptProxyHeaders(server: NetServer, gate: ProxyProtocolGate): void {
  const handlers = server.listeners('connection') as ConnectionHandler[];
  server.removeAllListeners('connection');
  const handOver = (socket: Socket): void => {
    for (const handler of handlers) handler.call(server, socket);
  };
  server.on('connection', (socket: Socket) => {
    if (!gate.enabled()) {
      handOver(socket);
      return;
    }
    readProxyHeader(socket, gate.headerTimeoutMs(), (outcome) => {
      if (outcome.ok) {
        if (outcome.header.command === 'proxy') {
          setProxiedPeer(socket, clientAddress(outcome.header.source.address));
        }
        handOver(socket);
        // node:http reads through 'data' (the paused bytes would wait forever); node:tls takes the
        // buffered bytes itself and reads the handle directly, so a flowing socket would lose them.
        if (socket.listenerCount('data') > 0) socket.resume();
        return;
      }
      gate.logger.debug(
        { reason: outcome.reason, peer: clientAddress(socket.remoteAddress), port: socket.remotePort },
        'PROXY protocol header refused; connection closed',
      );
      gate.onRejected?.(outcome.rejection);
      // Nobody else listens on this socket: a late error must not become an uncaught one.
      socket.on('error', () => {});
      socket.destroy();
    });
  });
}

type ReadOutcome =
  | { readonly ok: true; readonly header: ProxyHeader }
  | { readonly ok: false; readonly rejection: ProxyHeaderRejection; readonly reason: string };

/**
 * `readProxyHeader` reads the header off `socket` and calls `done` once. On success the bytes
 * after the header are back in the socket's buffer (unshift) and the socket is paused: node:http
 * and node:tls both take a connection's buffered bytes before reading on.
 */
function readProxyHeader(socket: Socket, timeoutMs: number, done: (outcome: ReadOutcome) => void): void {
  const reader = new ProxyHeaderReader();
  const finish = (outcome: ReadOutcome): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onClose);
    socket.off('error', onError);
    done(outcome);
  };
  const onData = (chunk: Buffer): void => {
    const progress = reader.push(chunk);
    if (progress.state === 'more') return;
    if (progress.state === 'error') {
      finish({ ok: false, rejection: 'invalid', reason: progress.reason });
      return;
    }
    // Synchronously, before another chunk can be emitted to nobody.
    socket.pause();
    if (progress.rest.length > 0) socket.unshift(progress.rest);
    finish({ ok: true, header: progress.header });
  };
  const onEnd = (): void =>
    finish({ ok: false, rejection: 'closed', reason: 'the peer ended the connection before the header' });
  const onClose = (): void =>
    finish({ ok: false, rejection: 'closed', reason: 'the connection closed before the header' });
  const onError = (err: Error): void =>
    finish({ ok: false, rejection: 'closed', reason: `connection error before the header: ${err.message}` });
  const timer = setTimeout(
    () => finish({ ok: false, rejection: 'timeout', reason: `no complete header within ${timeoutMs} ms` }),
    timeoutMs,
  );
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onClose);
  socket.once('error', onError);
}
