/**
 * `manifests` generates the file-mode folder Portico is benchmarked with: N Ingresses (one host and
 * three Prefix paths each), each with its own Service and EndpointSlice pointing at the backend.
 * A realistic table size keeps route lookup in the measured path instead of a one-entry fast case.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const BENCH_NAMESPACE = 'bench';

export interface ManifestOptions {
  readonly dir: string;
  readonly count: number;
  readonly backendPort: number;
  readonly backendAddress: string;
  /** Sets `spec.ingressClassName` when given (Portico ignores class-less Ingresses by default). */
  readonly ingressClass?: string | undefined;
  /** Annotations of Ingress `i` (none when it returns undefined), e.g. policies on a few hosts. */
  readonly annotations?: (index: number) => Readonly<Record<string, string>> | undefined;
}

/** `benchHost` is the host of Ingress `i`, e.g. `app-0999.bench.portico.test`. */
export function benchHost(i: number): string {
  return `app-${String(i).padStart(4, '0')}.bench.portico.test`;
}

/**
 * `benchTargetIndex` picks the Ingress the load targets: the last one generated, so a router that
 * scans linearly pays its worst case rather than getting lucky with the first entry.
 */
export function benchTargetIndex(count: number): number {
  return count - 1;
}

/** `writeManifests` writes one multi-document YAML file per Ingress and returns the files' count. */
export function writeManifests(opts: ManifestOptions): number {
  mkdirSync(opts.dir, { recursive: true });
  for (let i = 0; i < opts.count; i++) {
    const name = `app-${String(i).padStart(4, '0')}`;
    const backend = { service: { name, port: { number: 80 } } };
    const annotations = opts.annotations?.(i);
    const ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace: BENCH_NAMESPACE, ...(annotations !== undefined ? { annotations } : {}) },
      spec: {
        ...(opts.ingressClass !== undefined ? { ingressClassName: opts.ingressClass } : {}),
        rules: [
          {
            host: benchHost(i),
            http: {
              paths: [
                { path: '/api', pathType: 'Prefix', backend },
                { path: '/static', pathType: 'Prefix', backend },
                { path: '/', pathType: 'Prefix', backend },
              ],
            },
          },
        ],
      },
    };
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: BENCH_NAMESPACE },
      spec: {
        type: 'ClusterIP',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: opts.backendPort }],
        selector: { app: name },
      },
    };
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-1`,
        namespace: BENCH_NAMESPACE,
        labels: { 'kubernetes.io/service-name': name },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [opts.backendAddress], conditions: { ready: true, serving: true } }],
      ports: [{ name: 'http', protocol: 'TCP', port: opts.backendPort }],
    };
    const text = [ingress, service, slice].map((doc) => stringify(doc)).join('---\n');
    writeFileSync(join(opts.dir, `${name}.yaml`), text);
  }
  return opts.count;
}
