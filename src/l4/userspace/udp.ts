/**
 * `UdpProxy` is the user-space mode for one UDP listen port. UDP has no connections, so the proxy
 * keeps flows: the first datagram from a client `ip:port` picks an endpoint round-robin and opens an
 * upstream socket (an ephemeral port, connected to that endpoint); later datagrams from the client go
 * through it, and whatever the endpoint sends back to it is relayed to that client from the listen
 * port. This is what conntrack does for the kernel modes.
 *
 * - Idle expiry: a flow with no datagram either way for the idle timeout (the service's
 *   `idleTimeoutMs`, else `idleTimeoutMs` here, default 30 s) is closed by an unref'd sweep every
 *   `sweepIntervalMs`, against an injectable clock; tests call `sweep()` themselves.
 * - Endpoint removal closes that endpoint's flows at once (there is no stream to drain): the
 *   client's next datagram opens a new flow on a live endpoint. An upstream socket error (an ICMP
 *   port unreachable reported as ECONNREFUSED) closes the flow the same way.
 * - Bound: at most `maxFlows` flows (default 10,000, one socket each). Past it, datagrams from new
 *   clients are dropped and counted (`droppedDatagrams`) while existing flows carry on, as a full
 *   conntrack table drops new flows: a flood of new sources cannot evict established clients.
 *   Datagrams arriving while a new flow's upstream socket is connecting are queued, at most
 *   `MAX_PENDING_DATAGRAMS` per flow; more are dropped.
 * - Families: the listener's family follows the bind address; each upstream socket follows its
 *   endpoint's, so an IPv6 listener can front IPv4 endpoints and the reverse.
 */
import dgram from 'node:dgram';
import { familyOf, type L4Endpoint } from '../model.js';
import { type Clock, endpointKey, orderedEndpoints, type UserspaceL4Service } from './types.js';

export interface UdpProxyOptions {
  readonly host: string;
  /** 0 picks a free port (see `UdpProxy.port`). */
  readonly port: number;
  /** Flow idle timeout when the service sets none. Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** Default 10,000; see the module comment for what happens past it. */
  readonly maxFlows?: number;
  /** How often idle flows are looked for. Default 1 s. */
  readonly sweepIntervalMs?: number;
  readonly now?: Clock;
  readonly onError?: (message: string) => void;
}

export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_FLOWS = 10_000;
export const MAX_PENDING_DATAGRAMS = 64;
const DEFAULT_SWEEP_INTERVAL_MS = 1_000;

interface Flow {
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly endpoint: string;
  readonly upstream: dgram.Socket;
  lastActivity: number;
  /** Datagrams waiting for the upstream socket to connect; undefined once connected. */
  pending: Buffer[] | undefined;
  closed: boolean;
}

export class UdpProxy {
  readonly #socket: dgram.Socket;
  readonly #options: UdpProxyOptions;
  readonly #now: Clock;
  readonly #flows = new Map<string, Flow>();
  #service: UserspaceL4Service;
  #endpoints: L4Endpoint[] = [];
  #endpointKeys = new Set<string>();
  #cursor = 0;
  #dropped = 0;
  #sweepTimer: NodeJS.Timeout | undefined;

  private constructor(service: UserspaceL4Service, options: UdpProxyOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#service = service;
    this.#setEndpoints(service.endpoints);
    this.#socket = dgram.createSocket(familyOf(options.host) === 'IPv6' ? 'udp6' : 'udp4');
    this.#socket.on('message', (message, remote) => this.#onDatagram(message, remote));
  }

  /** `listen` binds the listen port; rejects with the bind error. */
  static async listen(service: UserspaceL4Service, options: UdpProxyOptions): Promise<UdpProxy> {
    const proxy = new UdpProxy(service, options);
    const socket = proxy.#socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: options.host, port: options.port }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (err) => proxy.#report(`listener: ${err.message}`));
    proxy.#sweepTimer = setInterval(
      () => proxy.sweep(),
      options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    );
    proxy.#sweepTimer.unref();
    return proxy;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get service(): UserspaceL4Service {
    return this.#service;
  }

  get flowCount(): number {
    return this.#flows.size;
  }

  /** Datagrams dropped: no endpoint, the flow bound reached, or a connecting flow's queue full. */
  get droppedDatagrams(): number {
    return this.#dropped;
  }

  /** The endpoint (`ip:port`) the client's flow goes to, if it has one. */
  flowEndpoint(clientAddress: string, clientPort: number): string | undefined {
    return this.#flows.get(flowKey(clientAddress, clientPort))?.endpoint;
  }

  update(service: UserspaceL4Service): void {
    this.#service = service;
    this.#setEndpoints(service.endpoints);
    for (const flow of this.#flows.values()) {
      if (!this.#endpointKeys.has(flow.endpoint)) this.#closeFlow(flow);
    }
  }

  /** Closes flows idle for the timeout. Runs on a timer; tests call it directly. */
  sweep(): void {
    const now = this.#now();
    const idle = this.#service.idleTimeoutMs ?? this.#options.idleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS;
    for (const flow of this.#flows.values()) {
      if (now - flow.lastActivity >= idle) this.#closeFlow(flow);
    }
  }

  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    for (const flow of this.#flows.values()) this.#closeFlow(flow);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #setEndpoints(endpoints: readonly L4Endpoint[]): void {
    this.#endpoints = orderedEndpoints(endpoints);
    this.#endpointKeys = new Set(this.#endpoints.map(endpointKey));
    if (this.#cursor >= this.#endpoints.length) this.#cursor = 0;
  }

  #report(message: string): void {
    this.#options.onError?.(`${this.#service.name}: ${message}`);
  }

  #onDatagram(message: Buffer, remote: dgram.RemoteInfo): void {
    const flow = this.#flows.get(flowKey(remote.address, remote.port)) ?? this.#openFlow(remote);
    if (!flow) {
      this.#dropped++;
      return;
    }
    flow.lastActivity = this.#now();
    if (flow.pending) {
      if (flow.pending.length < MAX_PENDING_DATAGRAMS) flow.pending.push(message);
      else this.#dropped++;
      return;
    }
    this.#send(flow, message);
  }

  #send(flow: Flow, message: Buffer): void {
    flow.upstream.send(message, (err) => {
      if (err) {
        this.#report(`endpoint ${flow.endpoint}: ${err.message}`);
        this.#closeFlow(flow);
      }
    });
  }

  #openFlow(remote: dgram.RemoteInfo): Flow | undefined {
    const maxFlows = this.#options.maxFlows ?? DEFAULT_MAX_FLOWS;
    if (this.#flows.size >= maxFlows || this.#endpoints.length === 0) return undefined;
    const endpoint = this.#endpoints[this.#cursor % this.#endpoints.length]!;
    this.#cursor = (this.#cursor + 1) % this.#endpoints.length;
    const upstream = dgram.createSocket(familyOf(endpoint.address) === 'IPv6' ? 'udp6' : 'udp4');
    const flow: Flow = {
      key: flowKey(remote.address, remote.port),
      clientAddress: remote.address,
      clientPort: remote.port,
      endpoint: endpointKey(endpoint),
      upstream,
      lastActivity: this.#now(),
      pending: [],
      closed: false,
    };
    upstream.on('error', (err) => {
      this.#report(`endpoint ${flow.endpoint}: ${err.message}`);
      this.#closeFlow(flow);
    });
    upstream.on('message', (reply) => {
      if (flow.closed) return;
      flow.lastActivity = this.#now();
      this.#socket.send(reply, flow.clientPort, flow.clientAddress);
    });
    upstream.connect(endpoint.port, endpoint.address, () => {
      if (flow.closed) return;
      const pending = flow.pending ?? [];
      flow.pending = undefined;
      for (const message of pending) this.#send(flow, message);
    });
    this.#flows.set(flow.key, flow);
    return flow;
  }

  #closeFlow(flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    if (this.#flows.get(flow.key) === flow) this.#flows.delete(flow.key);
    try {
      flow.upstream.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }
}

function flowKey(address: string, port: number): string {
  return `${address}|${port}`;
}
