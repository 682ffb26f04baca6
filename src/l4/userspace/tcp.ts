/**
 * `TcpProxy` is the user-space mode for one TCP listen port: every accepted connection is spliced to
 * one ready endpoint of the service, chosen round-robin, the way kube-proxy's userspace mode did.
 *
 * - Connect: each attempt has `connectTimeoutMs`; a refused or timed-out attempt moves on to the next
 *   endpoint in the rotation, at most `maxConnectAttempts` times (and never more than there are
 *   endpoints). The client's bytes wait in the kernel meanwhile (`pauseOnConnect`), not in memory.
 * - Half-close: both sockets allow half-open, and `pipe` forwards each side's FIN as `end()` on the
 *   other, so a client that shuts down its writing side still receives the backend's reply.
 * - Backpressure: `pipe` pauses the reading side while the writing side's buffer is above its high
 *   water mark, so at most about one read chunk plus a high water mark is held per direction.
 * - Idle timeout (per service, optional): no byte either way for that long closes both sides.
 * - Endpoint removal: new connections never go to a removed endpoint; existing ones keep flowing for
 *   `drainGraceMs`, then are destroyed (a re-added endpoint's connections are spared).
 * - PROXY protocol (per service, optional): a v1 or v2 header goes to the backend first, with the
 *   client's address as source and the listener's as destination.
 *
 * Idle and grace deadlines are checked by one unref'd sweep every `sweepIntervalMs` against an
 * injectable clock, so they are enforced within that interval; tests call `sweep()` themselves.
 */
import net from 'node:net';
import type { L4Endpoint } from '../model.js';
import { proxyHeader } from './proxy-header.js';
import { type Clock, endpointKey, orderedEndpoints, type UserspaceL4Service } from './types.js';

export interface TcpProxyOptions {
  /** Address to listen on, e.g. `0.0.0.0`, `::`, `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one (see `TcpProxy.port`). */
  readonly port: number;
  /** Per connect attempt. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Endpoints tried per client connection before giving up (capped at the endpoint count). Default 3. */
  readonly maxConnectAttempts?: number;
  /** How long connections to a removed endpoint keep flowing. Default 10 s. */
  readonly drainGraceMs?: number;
  /** How often idle and grace deadlines are checked. Default 1 s. */
  readonly sweepIntervalMs?: number;
  readonly now?: Clock;
  /** Told about failures that affect no caller directly (a backend refusing, a client reset). */
  readonly onError?: (message: string) => void;
}

interface Connection {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  /** `endpointKey` of the endpoint this connection is (being) spliced to. */
  endpoint: string | undefined;
  lastActivity: number;
  /** Set while the endpoint is removed: destroyed at this time. */
  drainDeadline: number | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_CONNECT_ATTEMPTS = 3;
const DEFAULT_DRAIN_GRACE_MS = 10_000;
const DEFAULT_SWEEP_INTERVAL_MS = 1_000;

/** Both directions ended normally: the other socket has (or is finishing) the same, no reset needed. */
function closedCleanly(socket: net.Socket): boolean {
  return socket.readableEnded && socket.writableFinished;
}

export class TcpProxy {
  readonly #server: net.Server;
  readonly #options: TcpProxyOptions;
  readonly #now: Clock;
  readonly #connections = new Set<Connection>();
  #service: UserspaceL4Service;
  #endpoints: L4Endpoint[] = [];
  #endpointKeys = new Set<string>();
  #cursor = 0;
  #sweepTimer: NodeJS.Timeout | undefined;

  private constructor(service: UserspaceL4Service, options: TcpProxyOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#service = service;
    this.#setEndpoints(service.endpoints);
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) =>
      this.#accept(client),
    );
  }

  /** `listen` opens the listener; rejects with the bind error (EADDRINUSE, EACCES…). */
  static async listen(service: UserspaceL4Service, options: TcpProxyOptions): Promise<TcpProxy> {
    const proxy = new TcpProxy(service, options);
    const server = proxy.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => proxy.#report(`listener: ${err.message}`));
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    proxy.#sweepTimer = setInterval(() => proxy.sweep(), interval);
    proxy.#sweepTimer.unref();
    return proxy;
  }

  /** The port actually listened on (differs from the requested one when that was 0). */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get service(): UserspaceL4Service {
    return this.#service;
  }

  /** Client connections currently open (connecting, spliced or draining). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Bytes held in user space by all connections (socket read and write buffers): what backpressure bounds. */
  bufferedBytes(): number {
    let total = 0;
    for (const { client, upstream } of this.#connections) {
      total += client.readableLength + client.writableLength;
      if (upstream) total += upstream.readableLength + upstream.writableLength;
    }
    return total;
  }

  /** `update` takes a new endpoint set and options; see the module comment for removed endpoints. */
  update(service: UserspaceL4Service): void {
    this.#service = service;
    this.#setEndpoints(service.endpoints);
    const deadline = this.#now() + (this.#options.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS);
    for (const connection of this.#connections) {
      if (connection.endpoint === undefined) continue;
      if (this.#endpointKeys.has(connection.endpoint)) connection.drainDeadline = undefined;
      else connection.drainDeadline ??= deadline;
    }
    this.sweep();
  }

  /** Closes connections past their idle or drain deadline. Runs on a timer; tests call it directly. */
  sweep(): void {
    const now = this.#now();
    const idle = this.#service.idleTimeoutMs;
    for (const connection of this.#connections) {
      const idleExpired = idle !== undefined && idle > 0 && now - connection.lastActivity >= idle;
      const drained = connection.drainDeadline !== undefined && now >= connection.drainDeadline;
      if (idleExpired || drained) this.#destroy(connection);
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) this.#destroy(connection);
    await closed;
  }

  #setEndpoints(endpoints: readonly L4Endpoint[]): void {
    this.#endpoints = orderedEndpoints(endpoints);
    this.#endpointKeys = new Set(this.#endpoints.map(endpointKey));
    if (this.#cursor >= this.#endpoints.length) this.#cursor = 0;
  }

  #nextEndpoint(): L4Endpoint | undefined {
    if (this.#endpoints.length === 0) return undefined;
    const endpoint = this.#endpoints[this.#cursor % this.#endpoints.length];
    this.#cursor = (this.#cursor + 1) % this.#endpoints.length;
    return endpoint;
  }

  #report(message: string): void {
    this.#options.onError?.(`${this.#service.name}: ${message}`);
  }

  #destroy(connection: Connection): void {
    connection.client.destroy();
    connection.upstream?.destroy();
  }

  #accept(client: net.Socket): void {
    const connection: Connection = {
      client,
      upstream: undefined,
      endpoint: undefined,
      lastActivity: this.#now(),
      drainDeadline: undefined,
    };
    this.#connections.add(connection);
    client.on('error', (err) =>
      this.#report(`client ${client.remoteAddress}:${client.remotePort}: ${err.message}`),
    );
    client.once('close', () => {
      this.#connections.delete(connection);
      if (!closedCleanly(client)) connection.upstream?.destroy();
    });
    const attempts = Math.min(
      this.#options.maxConnectAttempts ?? DEFAULT_MAX_CONNECT_ATTEMPTS,
      this.#endpoints.length,
    );
    this.#connect(connection, attempts);
  }

  #connect(connection: Connection, attemptsLeft: number): void {
    const { client } = connection;
    if (client.destroyed) return;
    const endpoint = attemptsLeft > 0 ? this.#nextEndpoint() : undefined;
    if (!endpoint) {
      this.#report('no endpoint accepted the connection');
      client.destroy();
      return;
    }
    const key = endpointKey(endpoint);
    const upstream = net.connect({
      host: endpoint.address,
      port: endpoint.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    connection.upstream = upstream;
    connection.endpoint = key;
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () => upstream.destroy(new Error(`connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onFailure = (err: Error): void => {
      clearTimeout(timer);
      connection.upstream = undefined;
      connection.endpoint = undefined;
      this.#report(`endpoint ${key}: ${err.message}`);
      this.#connect(connection, attemptsLeft - 1);
    };
    upstream.once('error', onFailure);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.off('error', onFailure);
      this.#splice(connection, upstream, key);
    });
    // The client went away while connecting: no 'error' follows a plain destroy, so clear the timer.
    upstream.once('close', () => clearTimeout(timer));
  }

  #splice(connection: Connection, upstream: net.Socket, key: string): void {
    const { client } = connection;
    upstream.on('error', (err) => this.#report(`endpoint ${key}: ${err.message}`));
    upstream.once('close', () => {
      if (!closedCleanly(upstream)) client.destroy();
    });
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    if (!this.#endpointKeys.has(key)) {
      // Removed while this connect was in flight: it is drained like the others.
      connection.drainDeadline ??= this.#now() + (this.#options.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS);
    }
    const version = this.#service.proxyProtocol;
    if (version !== undefined) {
      const source =
        client.remoteAddress !== undefined && client.remotePort !== undefined
          ? { address: client.remoteAddress, port: client.remotePort }
          : undefined;
      const destination =
        client.localAddress !== undefined && client.localPort !== undefined
          ? { address: client.localAddress, port: client.localPort }
          : undefined;
      upstream.write(proxyHeader(version === 'v1' ? 1 : 2, source, destination));
    }
    const touch = (): void => {
      connection.lastActivity = this.#now();
    };
    connection.lastActivity = this.#now();
    client.on('data', touch);
    upstream.on('data', touch);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
