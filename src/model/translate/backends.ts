/**
 * `backends` resolves an Ingress backend through its Service to a `BackendRef`. Endpoints are not
 * looked at here: they change often and take a separate fast path (src/endpoints).
 */

import { backendKey } from '../../util/keys.js';
import type { DiagnosticCode } from '../diagnostics.js';
import type { IngressBackend, Service } from '../objects.js';
import type { BackendRef, BackendTarget } from '../types.js';

/** `BackendResolution` is a resolved ref plus, when broken, the warning to report for it. */
export interface BackendResolution {
  readonly ref: BackendRef;
  readonly warning?: { readonly code: DiagnosticCode; readonly message: string };
}

/** `ServiceIndex` maps `"namespace/name"` to Services; a missing namespace counts as `default`. */
export type ServiceIndex = ReadonlyMap<string, Service>;

/** `DEFAULT_NAMESPACE` is what an object without `metadata.namespace` belongs to, as kubectl assumes. */
export const DEFAULT_NAMESPACE = 'default';

/** `CLUSTER_IP_SUFFIX` ends the key of a backend reached through its Service's ClusterIP. */
export const CLUSTER_IP_SUFFIX = ' via ClusterIP';

/**
 * `viaClusterIp` turns an endpoints backend into a `cluster-ip` one for `service-upstream`.
 * Broken references and ExternalName Services stay as they are (there is no ClusterIP to use);
 * a headless Service keeps its endpoints, with a warning.
 */
function viaClusterIp(resolved: BackendResolution, svc: Service | undefined, key: string): BackendResolution {
  const ref = resolved.ref;
  if (ref.target?.kind !== 'endpoints') return resolved;
  const clusterIp = svc?.spec?.clusterIP ?? '';
  if (clusterIp === '' || clusterIp === 'None') {
    return {
      ref,
      warning: {
        code: 'PORTICO_WARN_ANNOTATION_IGNORED',
        message: `service-upstream: service "${ref.namespace}/${ref.service}" has no ClusterIP (${clusterIp === 'None' ? 'headless' : 'not allocated'}); its endpoints are used`,
      },
    };
  }
  const target: BackendTarget = { kind: 'cluster-ip', address: clusterIp, port: ref.target.servicePort };
  return { ref: Object.freeze({ ...ref, key, target: Object.freeze(target) }) };
}

/** `indexServices` builds the `ServiceIndex` for one translation pass. */
export function indexServices(services: readonly Service[]): ServiceIndex {
  const index = new Map<string, Service>();
  for (const svc of services) {
    const meta = svc?.metadata;
    if (typeof meta?.name !== 'string') continue;
    index.set(`${meta.namespace ?? DEFAULT_NAMESPACE}/${meta.name}`, svc);
  }
  return index;
}

/**
 * `BackendResolver` resolves backends and shares one frozen `BackendRef` per key and outcome, so
 * repeated references cost nothing and compare by identity.
 */
export class BackendResolver {
  readonly #services: ServiceIndex;
  readonly #cache = new Map<string, BackendResolution>();

  constructor(services: ServiceIndex) {
    this.#services = services;
  }

  /**
   * `resolve` turns a validated `IngressBackend` of an Ingress in `namespace` into a
   * `BackendResolution`. `serviceUpstream` (the `service-upstream` annotation) targets the
   * Service's ClusterIP under its own key (`CLUSTER_IP_SUFFIX`), so the same Service port can be
   * reached through its endpoints by other Ingresses at the same time.
   */
  resolve(namespace: string, backend: IngressBackend, serviceUpstream = false): BackendResolution {
    if (backend.resource) return this.#resource(namespace, backend.resource.kind, backend.resource.name);
    const service = backend.service;
    const name = service?.name ?? '';
    const port: number | string = service?.port?.number ?? service?.port?.name ?? '';
    const key = backendKey(namespace, name, port);
    const cacheKey = serviceUpstream ? `${key}${CLUSTER_IP_SUFFIX}` : key;
    let hit = this.#cache.get(cacheKey);
    if (!hit) {
      hit = this.#service(namespace, name, port, key);
      if (serviceUpstream) hit = viaClusterIp(hit, this.#services.get(`${namespace}/${name}`), cacheKey);
      this.#cache.set(cacheKey, hit);
    }
    return hit;
  }

  #resource(namespace: string, kind: string, name: string): BackendResolution {
    // Service names cannot contain '/', so a `Kind/name` pseudo-service can never clash with one.
    const service = `${kind}/${name}`;
    const key = backendKey(namespace, service, '');
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const problem = `resource backend ${kind} "${namespace}/${name}" is not supported; only Service backends are`;
    const resolution: BackendResolution = {
      ref: Object.freeze({ key, namespace, service, port: '', problem }),
      warning: { code: 'PORTICO_WARN_UNSUPPORTED', message: problem },
    };
    this.#cache.set(key, resolution);
    return resolution;
  }

  #service(namespace: string, name: string, port: number | string, key: string): BackendResolution {
    const broken = (code: DiagnosticCode, problem: string): BackendResolution => ({
      ref: Object.freeze({ key, namespace, service: name, port, problem }),
      warning: { code, message: problem },
    });
    const svc = this.#services.get(`${namespace}/${name}`);
    if (!svc) return broken('PORTICO_WARN_SERVICE_MISSING', `service "${namespace}/${name}" not found`);
    const ports = svc.spec?.ports ?? [];
    const found =
      typeof port === 'number' ? ports.find((p) => p.port === port) : ports.find((p) => p.name === port);
    let target: BackendTarget;
    if (svc.spec?.type === 'ExternalName') {
      const hostname = svc.spec.externalName ?? '';
      if (hostname === '') {
        return broken(
          'PORTICO_WARN_SERVICE_MISSING',
          `service "${namespace}/${name}" is ExternalName but has no spec.externalName`,
        );
      }
      // An ExternalName Service often lists no ports: a port number is then taken as written.
      const resolved = found?.port ?? (typeof port === 'number' ? port : undefined);
      if (resolved === undefined) {
        return broken(
          'PORTICO_WARN_SERVICE_PORT_MISSING',
          `service "${namespace}/${name}" has no port named "${port}"`,
        );
      }
      target = { kind: 'external-name', hostname, port: resolved };
    } else {
      if (!found) {
        return broken(
          'PORTICO_WARN_SERVICE_PORT_MISSING',
          typeof port === 'number'
            ? `service "${namespace}/${name}" has no port ${port}`
            : `service "${namespace}/${name}" has no port named "${port}"`,
        );
      }
      target = { kind: 'endpoints', servicePortName: found.name ?? '', servicePort: found.port };
    }
    return { ref: Object.freeze({ key, namespace, service: name, port, target: Object.freeze(target) }) };
  }
}
