/**
 * Real-socket helpers for the user-space L4 proxy tests: TCP and UDP backends that tell who served
 * a request, clients that exchange one message, and a bounded wait. Everything binds loopback.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface TcpBackend {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  accepted: number;
  readonly sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * `startTcpBackend` serves each connection with `handle`, default: echo every byte and end when the
 * client ends (half-close aware).
 */
export async function startTcpBackend(
  host: string,
  handle: (socket: net.Socket) => void = (socket) => socket.pipe(socket),
): Promise<TcpBackend> {
  const sockets = new Set<net.Socket>();
  const backend = { accepted: 0 } as { accepted: number };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    backend.accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    handle(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(backend, {
    host,
    port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** A port on `host` nobody listens on (bound, then released): connects to it are refused. */
export async function refusedPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `connectTcp` resolves once connected. */
export function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** `tcpExchange` sends `payload`, shuts down its writing side, and collects everything until the peer ends. */
export async function tcpExchange(host: string, port: number, payload: string): Promise<string> {
  const socket = await connectTcp(host, port);
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.end(payload);
  await ended;
  return Buffer.concat(chunks).toString();
}

/** `echoOnce` writes `payload` on an open socket and waits for the same number of bytes back. */
export function echoOnce(socket: net.Socket, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString();
      if (received.length >= payload.length) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(received);
      }
    };
    const onClose = (): void => reject(new Error(`closed after ${received.length} bytes`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(payload);
  });
}

export function closed(socket: net.Socket | dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Resolves when the peer has closed its side (FIN or reset); the socket is left flowing. */
export function peerGone(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.resume();
  });
}

export interface UdpBackend {
  readonly port: number;
  /** Distinct `address|port` sources seen. */
  readonly sources: Set<string>;
  datagrams: number;
  close(): Promise<void>;
}

/** `startUdpBackend` replies `<name>:<datagram>` to every datagram. */
export async function startUdpBackend(host: string, name: string): Promise<UdpBackend> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const backend = { sources: new Set<string>(), datagrams: 0 };
  socket.on('message', (message, remote) => {
    backend.datagrams++;
    backend.sources.add(`${remote.address}|${remote.port}`);
    socket.send(`${name}:${message.toString()}`, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind({ address: host, port: 0 }, resolve));
  return Object.assign(backend, {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  });
}

export interface UdpClient {
  readonly socket: dgram.Socket;
  readonly port: number;
  /** Sends one datagram to the proxy and waits (bounded) for one reply. */
  ask(message: string): Promise<string>;
  send(message: string): void;
  close(): Promise<void>;
}

export async function udpClient(host: string, proxyPort: number, timeoutMs = 3_000): Promise<UdpClient> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind({ address: host, port: 0 }, resolve));
  return {
    socket,
    port: socket.address().port,
    send: (message) => socket.send(message, proxyPort, host),
    ask: (message) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          reject(new Error(`no reply to "${message}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMessage = (reply: Buffer): void => {
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(reply.toString());
        };
        socket.on('message', onMessage);
        socket.send(message, proxyPort, host);
      }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** `waitFor` polls `condition` every 10 ms, failing after `timeoutMs`: a bounded wait, not a timing assert. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A clock tests move by hand. */
export function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
