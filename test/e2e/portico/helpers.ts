/**
 * Shared pieces of the portico process tests: manifests from builders, and echo backends with the
 * Service + EndpointSlice that point at them.
 */
import { stringify } from 'yaml';
import type { KubeObject } from '../../../src/model/objects.js';
import { type Backend, startBackend } from '../../support/backends.js';
import { echoService } from '../../support/builders.js';

/** `yamlOf` renders objects as one multi-document YAML text. */
export function yamlOf(...objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

/**
 * `settingsConfigMap` writes the `ingress/portico` settings ConfigMap by hand, so line numbers are
 * known (diagnostics tests rely on them): data starts at line 7.
 */
export function settingsConfigMap(data: Record<string, string>): string {
  return [
    'apiVersion: v1', // 1
    'kind: ConfigMap', // 2
    'metadata:', // 3
    '  name: portico', // 4
    '  namespace: ingress', // 5
    'data:', // 6
    ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`), // 7…
    '',
  ].join('\n');
}

/** `Pods` are running echo backends, one Service each, named after the Service. */
export interface Pods {
  readonly backends: ReadonlyMap<string, Backend>;
  /** Service + EndpointSlice objects pointing at the backends. */
  readonly objects: readonly KubeObject[];
  close(): Promise<void>;
}

/**
 * `startPods` starts one echo backend per Service name on 127.0.0.(2+i), ephemeral port, and builds
 * the Service (port 80) and EndpointSlice for each.
 */
export async function startPods(...services: readonly string[]): Promise<Pods> {
  const backends = new Map<string, Backend>();
  const objects: KubeObject[] = [];
  try {
    for (const [i, name] of services.entries()) {
      const b = await startBackend({ name, host: `127.0.0.${2 + i}`, port: 0 });
      backends.set(name, b);
      objects.push(...echoService(name, { addresses: [b.host], targetPort: b.port }));
    }
  } catch (err) {
    await Promise.all([...backends.values()].map((b) => b.close()));
    throw err;
  }
  return {
    backends,
    objects,
    close: async () => {
      await Promise.all([...backends.values()].map((b) => b.close()));
    },
  };
}
