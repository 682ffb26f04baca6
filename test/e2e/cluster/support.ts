/**
 * `support` helps the cluster-mode end-to-end tests: run the compiled `portico` against a fake API
 * server (kubeconfig, ephemeral ports from the "listening" line, logs), a TCP gate to cut the API
 * server off for as long as a test likes, object builders, and the check that every request the
 * API server saw is covered by `src/k8s/permissions.ts`.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { REQUIRED_PERMISSIONS } from '../../../src/k8s/permissions.js';
import type { RecordedRequest } from '../../support/fake-apiserver/index.js';
import { get, type PorticoProcess, spawnPortico, waitUntil } from '../../support/portico-process.js';

export const CONTROLLER = 'portico.dev/ingress-controller';

/** `ClusterPortico` is a portico process in cluster mode (test/support/portico-process.ts). */
export type ClusterPortico = PorticoProcess;

/**
 * `startClusterPortico` spawns portico in cluster mode and resolves at its "listening" line (not
 * at /readyz: tests of the synced gate look at the 503 first).
 */
export function startClusterPortico(options: {
  readonly kubeconfig: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly bindAddress?: string;
}): Promise<ClusterPortico> {
  return spawnPortico(['--kubeconfig', options.kubeconfig, ...(options.args ?? [])], {
    env: { POD_NAMESPACE: 'default', POD_NAME: 'portico-e2e', ...options.env },
    ...(options.bindAddress !== undefined ? { bindAddress: options.bindAddress } : {}),
  });
}

/** `RouteView` is one entry of `/routes`, as far as these tests read it. */
export interface RouteView {
  readonly host: string;
  readonly path: string;
  readonly backend: string;
  readonly endpoints: readonly string[];
  readonly ingress: string;
}

/** `routes` reads `/routes` from the admin port. */
export async function routes(adminPort: number): Promise<{ generation: number; routes: RouteView[] }> {
  const res = await get(adminPort, '/routes');
  if (res.status !== 200) throw new Error(`/routes answered ${res.status}`);
  return JSON.parse(res.body) as { generation: number; routes: RouteView[] };
}

/** `waitForRoutes` polls `/routes` until `pred` holds. */
export async function waitForRoutes(
  adminPort: number,
  pred: (r: RouteView[]) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<RouteView[]> {
  let last: RouteView[] = [];
  await waitUntil(
    async () => {
      last = (await routes(adminPort)).routes;
      return pred(last);
    },
    timeoutMs,
    `${what} (last /routes: ${JSON.stringify(last)})`,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last routes ${JSON.stringify(last)}`);
  });
  return last;
}

/** `readyz` returns the admin /readyz status. */
export async function readyz(adminPort: number): Promise<number> {
  return (await get(adminPort, '/readyz')).status;
}

/** `metric` reads one sample from /metrics (sum over matching label sets), or undefined. */
export async function metric(
  adminPort: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const res = await get(adminPort, '/metrics');
  let found: number | undefined;
  for (const line of res.body.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (!matches) continue;
    found = (found ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return found;
}

// ---- Object builders (what `kubectl apply` would send) ----

export function ingressClass(name = 'portico', controller = CONTROLLER) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name },
    spec: { controller },
  };
}

export interface IngressSpecOptions {
  readonly namespace?: string;
  readonly host?: string;
  readonly paths?: readonly { path: string; service: string; port: number }[];
  readonly tls?: readonly string[];
  readonly className?: string;
}

export function ingress(name: string, o: IngressSpecOptions = {}) {
  const paths = o.paths ?? [{ path: '/', service: 'web', port: 80 }];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: o.namespace ?? 'default' },
    spec: {
      ingressClassName: o.className ?? 'portico',
      ...(o.tls
        ? { tls: o.tls.map((secretName) => ({ hosts: [o.host ?? 'shop.example'], secretName })) }
        : {}),
      rules: [
        {
          host: o.host ?? 'shop.example',
          http: {
            paths: paths.map((p) => ({
              path: p.path,
              pathType: 'Prefix',
              backend: { service: { name: p.service, port: { number: p.port } } },
            })),
          },
        },
      ],
    },
  };
}

export function service(name: string, port = 80, targetPort = 8080, namespace = 'default') {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'ClusterIP',
      selector: { app: name },
      ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }],
    },
  };
}

export function endpointSlice(
  service: string,
  addresses: readonly string[],
  port = 8080,
  o: { name?: string; namespace?: string } = {},
) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: o.name ?? `${service}-slice`,
      namespace: o.namespace ?? 'default',
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({
      addresses: [a],
      conditions: { ready: true, serving: true, terminating: false },
    })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

export function tlsSecret(name: string, namespace = 'default', type = 'kubernetes.io/tls') {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type,
    data: {
      'tls.crt': Buffer.from('cert').toString('base64'),
      'tls.key': Buffer.from('key').toString('base64'),
    },
  };
}

/** `addresses` returns `10.200.0.1` … `10.200.0.n` (never sent traffic: the test only reads /routes). */
export function addresses(n: number, base = '10.200.0.'): string[] {
  return Array.from({ length: n }, (_, i) => `${base}${i + 1}`);
}

// ---- Permissions ----

/**
 * `uncoveredRequests` lists the recorded requests no entry of `REQUIRED_PERMISSIONS` allows
 * (verb, API group and resource[/subresource]). Non-resource paths (discovery) count as uncovered:
 * Portico makes none.
 */
export function uncoveredRequests(requests: readonly RecordedRequest[]): string[] {
  const out = new Set<string>();
  for (const r of requests) {
    const resource = r.subresource !== undefined ? `${r.resource}/${r.subresource}` : r.resource;
    const ok = REQUIRED_PERMISSIONS.some(
      (p) =>
        p.group === r.group && p.resource === resource && (p.verbs as readonly string[]).includes(r.verb),
    );
    if (!ok) out.add(`${r.verb} ${r.group === '' ? 'core' : r.group}/${resource} (${r.method} ${r.path})`);
  }
  return [...out];
}

// ---- A gate in front of the API server ----

/**
 * `TcpGate` forwards TCP connections to `target` while open; closed, it resets every connection
 * (new and existing), which to a client looks like an API server that went away. Unlike stopping
 * the server, the outage lasts exactly as long as the test wants.
 */
export class TcpGate {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #open = true;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** `start` listens on 127.0.0.1 (ephemeral port) in front of `targetPort`. */
  static async start(targetPort: number, host = '127.0.0.1'): Promise<TcpGate> {
    const gate: TcpGate = new TcpGate(
      createServer((client) => {
        if (!gate.#open) {
          client.resetAndDestroy();
          return;
        }
        const upstream = connect(targetPort, host);
        gate.#sockets.add(client);
        gate.#sockets.add(upstream);
        const close = () => {
          client.destroy();
          upstream.destroy();
          gate.#sockets.delete(client);
          gate.#sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
        client.pipe(upstream);
        upstream.pipe(client);
      }),
    );
    await new Promise<void>((resolve) => gate.#server.listen(0, host, resolve));
    return gate;
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** `close` cuts every connection and refuses new ones until `open`. */
  cut(): void {
    this.#open = false;
    for (const s of this.#sockets) s.resetAndDestroy();
    this.#sockets.clear();
  }

  open(): void {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** `sleep` waits; used only where a test must let wall-clock time pass (an outage's length). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
