/**
 * `UserspaceL4` runs the `userspace` L4 mode: one `TcpProxy` or `UdpProxy` per listen port of an
 * `L4State`. `apply` diffs against what is open, keyed by protocol and listen port: a new key opens
 * a listener, a vanished key closes one, a kept key updates its endpoints and options in place (open
 * connections and flows survive, drained as `TcpProxy`/`UdpProxy` describe).
 *
 * One bad service never takes the others down: an invalid one is rejected with the field at fault
 * (and treated as absent, so its listener, if any, closes), a port that cannot be bound is reported
 * and tried again on the next `apply`, and nothing here throws for either.
 *
 * Listen port 0 (tests) asks the system for a free port; such services are keyed by name too, as
 * two of them do not collide, and `listeners()` tells the real port.
 */
import type { L4Protocol, L4Rejection } from '../model.js';
import { familyOf } from '../model.js';
import { TcpProxy, type TcpProxyOptions } from './tcp.js';
import type { Clock, UserspaceL4Service, UserspaceL4State } from './types.js';
import { UdpProxy, type UdpProxyOptions } from './udp.js';

type Tuning<T> = Omit<T, 'host' | 'port' | 'now' | 'onError'>;

export interface UserspaceL4Options {
  /** Address every listener binds. Default `0.0.0.0`. */
  readonly bindAddress?: string;
  readonly tcp?: Tuning<TcpProxyOptions>;
  readonly udp?: Tuning<UdpProxyOptions>;
  readonly now?: Clock;
  /** Failures inside running proxies (backend refused, upstream socket error), prefixed by service name. */
  readonly onError?: (message: string) => void;
}

export interface UserspaceListener {
  readonly service: string;
  readonly protocol: L4Protocol;
  readonly listenPort: number;
  /** The bound port (equals `listenPort` unless that was 0). */
  readonly port: number;
}

export interface UserspaceApplyResult {
  readonly listening: readonly UserspaceListener[];
  /** Services not served, with the field at fault: invalid ones, and ports that could not be bound. */
  readonly rejected: readonly L4Rejection[];
}

type Proxy = TcpProxy | UdpProxy;

function listenerKey(service: UserspaceL4Service): string {
  return service.listenPort === 0
    ? `${service.protocol}/0/${service.name}`
    : `${service.protocol}/${service.listenPort}`;
}

function validPort(port: number, min: number): boolean {
  return Number.isInteger(port) && port >= min && port <= 65535;
}

/** The first thing wrong with a service, field named (DESIGN §5). */
export function userspaceServiceProblem(
  service: UserspaceL4Service,
): { field: string; reason: string } | undefined {
  if (typeof service.name !== 'string' || service.name === '') return { field: 'name', reason: 'empty' };
  if (service.protocol !== 'TCP' && service.protocol !== 'UDP')
    return { field: 'protocol', reason: `"${String(service.protocol)}" is not TCP or UDP` };
  if (!validPort(service.listenPort, 0))
    return { field: 'listenPort', reason: `${service.listenPort} is not a port (0-65535)` };
  if (service.proxyProtocol !== undefined) {
    if (service.proxyProtocol !== 'v1' && service.proxyProtocol !== 'v2')
      return { field: 'proxyProtocol', reason: `${String(service.proxyProtocol)} is not v1 or v2` };
    if (service.protocol !== 'TCP')
      return { field: 'proxyProtocol', reason: 'a PROXY protocol header is written on TCP connections only' };
  }
  if (
    service.idleTimeoutMs !== undefined &&
    !(Number.isFinite(service.idleTimeoutMs) && service.idleTimeoutMs > 0)
  )
    return {
      field: 'idleTimeoutMs',
      reason: `${service.idleTimeoutMs} is not a positive number of milliseconds`,
    };
  for (const [i, endpoint] of service.endpoints.entries()) {
    if (!familyOf(endpoint.address))
      return { field: `endpoints[${i}].address`, reason: `"${endpoint.address}" is not an IP address` };
    if (!validPort(endpoint.port, 1))
      return { field: `endpoints[${i}].port`, reason: `${endpoint.port} is not a port (1-65535)` };
  }
  return undefined;
}

export class UserspaceL4 {
  readonly #options: UserspaceL4Options;
  readonly #proxies = new Map<string, Proxy>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: UserspaceL4Options = {}) {
    this.#options = options;
  }

  get bindAddress(): string {
    return this.#options.bindAddress ?? '0.0.0.0';
  }

  /** `apply` makes the open listeners match `state`; calls are serialised. Never rejects. */
  apply(state: UserspaceL4State): Promise<UserspaceApplyResult> {
    const run = this.#queue.then(() => this.#apply(state));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  listeners(): UserspaceListener[] {
    return [...this.#proxies.values()].map((proxy) => ({
      service: proxy.service.name,
      protocol: proxy.service.protocol,
      listenPort: proxy.service.listenPort,
      port: proxy.port,
    }));
  }

  /** The proxy serving a service (by name), for its counters and, in tests, its `sweep()`. */
  proxyFor(serviceName: string): Proxy | undefined {
    for (const proxy of this.#proxies.values()) if (proxy.service.name === serviceName) return proxy;
    return undefined;
  }

  /** Closes every listener, connection and flow; later `apply` calls open nothing. */
  close(): Promise<void> {
    this.#closed = true;
    const run = this.#queue.then(async () => {
      const proxies = [...this.#proxies.values()];
      this.#proxies.clear();
      await Promise.all(proxies.map((proxy) => proxy.close()));
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(state: UserspaceL4State): Promise<UserspaceApplyResult> {
    const rejected: L4Rejection[] = [];
    const wanted = new Map<string, UserspaceL4Service>();
    for (const service of state.services) {
      const problem = userspaceServiceProblem(service);
      if (problem) {
        rejected.push({ service: String(service.name), ...problem });
        continue;
      }
      const key = listenerKey(service);
      const holder = wanted.get(key);
      if (holder) {
        rejected.push({
          service: service.name,
          field: 'listenPort',
          reason: `${service.protocol} ${service.listenPort} is already taken by ${holder.name}`,
        });
        continue;
      }
      wanted.set(key, service);
    }
    if (this.#closed) wanted.clear();

    const closing: Promise<void>[] = [];
    for (const [key, proxy] of this.#proxies) {
      if (wanted.has(key)) continue;
      this.#proxies.delete(key);
      closing.push(proxy.close());
    }
    // Closed first, so a port handed from one service to another within one state can be bound again.
    await Promise.all(closing);

    await Promise.all(
      [...wanted].map(async ([key, service]) => {
        const existing = this.#proxies.get(key);
        if (existing) {
          if (existing instanceof TcpProxy) existing.update(service);
          else existing.update(service);
          return;
        }
        try {
          this.#proxies.set(key, await this.#open(service));
        } catch (err) {
          rejected.push({
            service: service.name,
            field: 'listenPort',
            reason: `cannot listen on ${this.bindAddress} ${service.protocol} ${service.listenPort}: ${err instanceof Error ? err.message : String(err)}`,
          });
        }
      }),
    );
    return { listening: this.listeners(), rejected };
  }

  #open(service: UserspaceL4Service): Promise<Proxy> {
    const common = {
      host: this.bindAddress,
      port: service.listenPort,
      ...(this.#options.now ? { now: this.#options.now } : {}),
      ...(this.#options.onError ? { onError: this.#options.onError } : {}),
    };
    return service.protocol === 'TCP'
      ? TcpProxy.listen(service, { ...this.#options.tcp, ...common })
      : UdpProxy.listen(service, { ...this.#options.udp, ...common });
  }
}
