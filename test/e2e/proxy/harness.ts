/**
 * `harness` starts an in-process data plane on 127.0.0.1 (ephemeral ports) for the e2e proxy
 * tests, with a logger that captures JSON lines so tests can assert "logged once".
 */
import { pino } from 'pino';
import type { RouteSnapshot } from '../../../src/compile/types.js';
import {
  type ClientOptions,
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_UPSTREAM_OPTIONS,
  type ProxyOptions,
  type UpstreamOptions,
} from '../../../src/config/types.js';
import type { EndpointTable } from '../../../src/endpoints/types.js';
import { type ListeningPorts, PorticoDataPlane } from '../../../src/proxy/data-plane.js';

export interface HarnessOptions {
  readonly trustedProxies?: readonly string[];
  readonly upstream?: Partial<UpstreamOptions>;
  readonly client?: Partial<ClientOptions>;
  readonly shutdownDelayMs?: number;
  readonly drainTimeoutMs?: number;
  readonly routes?: RouteSnapshot;
  readonly endpoints?: EndpointTable;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface Harness {
  readonly dp: PorticoDataPlane;
  readonly ports: ListeningPorts;
  readonly logs: LogLine[];
  close(): Promise<void>;
}

/** `startDataPlane` creates, configures and binds a data plane. */
export async function startDataPlane(opts: HarnessOptions = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as LogLine);
      },
    },
  );
  const options: ProxyOptions = {
    bindAddress: '127.0.0.1',
    httpPort: 0,
    httpsPort: 0,
    adminPort: 0,
    trustedProxies: opts.trustedProxies ?? [],
    upstream: { ...DEFAULT_UPSTREAM_OPTIONS, ...opts.upstream },
    client: { ...DEFAULT_CLIENT_OPTIONS, ...opts.client },
    shutdownDelayMs: opts.shutdownDelayMs ?? 0,
    drainTimeoutMs: opts.drainTimeoutMs ?? 2_000,
  };
  const dp = new PorticoDataPlane(options, logger);
  if (opts.routes !== undefined) dp.publishRoutes(opts.routes);
  if (opts.endpoints !== undefined) dp.publishEndpoints(opts.endpoints);
  const ports = await dp.listen();
  dp.setReady(true);
  return { dp, ports, logs, close: () => dp.shutdown() };
}

/** `warnings` returns the captured warn-level (40) lines with a given message prefix. */
export function warnings(logs: readonly LogLine[], prefix = ''): LogLine[] {
  return logs.filter((l) => l.level === 40 && l.msg.startsWith(prefix));
}
