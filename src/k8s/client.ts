/**
 * `client` is Portico's connection to the API server: it loads the KubeConfig and builds, per
 * resource, the list/watch/get transport the informers use. These are the only places that issue
 * read requests; every one of them is listed in `permissions.ts` (list, watch and get on the eight
 * kinds below).
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  NetworkingV1Api,
  type V1ListMeta,
  Watch,
} from '@kubernetes/client-node';
import type { KubeKind } from '../model/objects.js';

export type { KubeConfig };

/** `KubeConfigError` means no usable cluster configuration was found (a usage error, exit 2). */
export class KubeConfigError extends Error {
  readonly code = 'PORTICO_ERR_KUBECONFIG';
}

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`; wins over the environment. */
  readonly kubeconfig?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * `loadKubeConfig` finds the cluster: `--kubeconfig`, else `$KUBECONFIG` (a list of files, merged
 * as kubectl does), else the in-cluster service account. Unlike client-node's `loadFromDefault` it
 * never falls back to `~/.kube/config` or `localhost:8080`: a controller silently talking to
 * whatever cluster the operator's laptop points at would be worse than refusing to start.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) {
      kc.loadFromFile(options.kubeconfig);
    } else if ((env['KUBECONFIG'] ?? '') !== '') {
      kc.loadFromDefault();
    } else if ((env['KUBERNETES_SERVICE_HOST'] ?? '') !== '') {
      kc.loadFromCluster();
    } else {
      throw new Error(
        'no cluster configuration: pass --kubeconfig, set KUBECONFIG, run in a pod, or use --manifests DIR',
      );
    }
  } catch (err) {
    throw new KubeConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (kc.getCurrentCluster() === null) throw new KubeConfigError('the kubeconfig has no current cluster');
  return kc;
}

/** `ResourceInfo` says where a kind lives in the API. */
export interface ResourceInfo {
  /** API group, `''` for core. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** `RESOURCES` is the API location of every kind Portico watches. */
export const RESOURCES: Readonly<Record<KubeKind, ResourceInfo>> = {
  Ingress: { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true },
  IngressClass: { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', namespaced: false },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  EndpointSlice: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true },
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  RateLimitPolicy: {
    group: 'portico.dev',
    version: 'v1alpha1',
    plural: 'ratelimitpolicies',
    namespaced: true,
  },
  L4Route: { group: 'portico.dev', version: 'v1alpha1', plural: 'l4routes', namespaced: true },
};

/** `resourcePath` is the collection URL path of a kind, in one namespace or all. */
export function resourcePath(kind: KubeKind, namespace?: string): string {
  const r = RESOURCES[kind];
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.plural}`;
}

/** `ListPage` is one page of a list response. */
export interface ListPage {
  /** Objects as client-node returns them (typed instances); `convert.ts` normalises them. */
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** Continue token; absent on the last page. */
  readonly continue?: string;
}

/** `WatchEvent` is one line of a watch stream. */
export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

/** `WatchHandle` stops a running watch; its `done` callback is then not to be trusted. */
export interface WatchHandle {
  abort(): void;
}

/** `Collection` names what a transport lists and watches: a kind in a namespace (or all). */
export interface Collection {
  readonly kind: KubeKind;
  /** Undefined: all namespaces (or a cluster-scoped kind). */
  readonly namespace?: string;
  readonly fieldSelector?: string;
}

/**
 * `ResourceTransport` is what an informer needs from the API server for one collection. The real
 * one is `clientTransport`; unit tests pass fakes.
 */
export interface ResourceTransport {
  list(options: { readonly limit: number; readonly continue?: string }): Promise<ListPage>;
  /**
   * `watch` opens a watch from `resourceVersion`. It resolves once the server answered (or the
   * attempt failed, reported through `done`); `done` runs once when the stream ends, with the
   * error if any (errors carry the HTTP status as `statusCode` or `code`).
   */
  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    done: (err: unknown) => void,
  ): Promise<WatchHandle>;
}

/** `ObjectGetter` reads one object (Secrets, when an Ingress starts referencing one). */
export type ObjectGetter = (namespace: string, name: string) => Promise<unknown>;

/** `TransportFactory` builds transports; `clientTransports` is the real one. */
export interface TransportFactory {
  collection(collection: Collection): ResourceTransport;
  getSecret: ObjectGetter;
}

/** Lists slower than this are abandoned and retried, so a half-open connection cannot wedge an informer. */
const LIST_TIMEOUT_MS = 60_000;

/**
 * `clientTransports` builds transports on client-node: typed list calls (paged) and its `Watch`.
 * Watches ask the server to end them after 5–10 minutes, as client-go does, so a connection that
 * died silently is noticed and replaced.
 */
export function clientTransports(kc: KubeConfig): TransportFactory {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watcher = new Watch(kc);

  type Params = { limit: number; _continue?: string; fieldSelector?: string };
  type Lister = (
    params: Params,
    namespace: string | undefined,
  ) => Promise<{ items: unknown[]; metadata?: V1ListMeta }>;
  const listers: Record<KubeKind, Lister> = {
    Ingress: (p, ns) =>
      ns === undefined
        ? networking.listIngressForAllNamespaces(p)
        : networking.listNamespacedIngress({ ...p, namespace: ns }),
    IngressClass: (p) => networking.listIngressClass(p),
    Service: (p, ns) =>
      ns === undefined
        ? core.listServiceForAllNamespaces(p)
        : core.listNamespacedService({ ...p, namespace: ns }),
    EndpointSlice: (p, ns) =>
      ns === undefined
        ? discovery.listEndpointSliceForAllNamespaces(p)
        : discovery.listNamespacedEndpointSlice({ ...p, namespace: ns }),
    Secret: (p, ns) =>
      ns === undefined
        ? core.listSecretForAllNamespaces(p)
        : core.listNamespacedSecret({ ...p, namespace: ns }),
    ConfigMap: (p, ns) =>
      ns === undefined
        ? core.listConfigMapForAllNamespaces(p)
        : core.listNamespacedConfigMap({ ...p, namespace: ns }),
    // Custom resources come back as plain JSON (no typed deserialiser), which convert.ts handles.
    RateLimitPolicy: (p, ns) => {
      const { group, version, plural } = RESOURCES.RateLimitPolicy;
      const list =
        ns === undefined
          ? custom.listClusterCustomObject({ group, version, plural, ...p })
          : custom.listNamespacedCustomObject({ group, version, plural, namespace: ns, ...p });
      return list as Promise<{ items: unknown[]; metadata?: V1ListMeta }>;
    },
    L4Route: (p, ns) => {
      const { group, version, plural } = RESOURCES.L4Route;
      const list =
        ns === undefined
          ? custom.listClusterCustomObject({ group, version, plural, ...p })
          : custom.listNamespacedCustomObject({ group, version, plural, namespace: ns, ...p });
      return list as Promise<{ items: unknown[]; metadata?: V1ListMeta }>;
    },
  };

  return {
    collection(c: Collection): ResourceTransport {
      const path = resourcePath(c.kind, c.namespace);
      const lister = listers[c.kind];
      return {
        async list(options) {
          const params: Params = {
            limit: options.limit,
            ...(options.continue !== undefined ? { _continue: options.continue } : {}),
            ...(c.fieldSelector !== undefined ? { fieldSelector: c.fieldSelector } : {}),
          };
          const list = await withTimeout(lister(params, c.namespace), LIST_TIMEOUT_MS, `list ${path}`);
          const token = list.metadata?._continue;
          return {
            items: list.items,
            resourceVersion: list.metadata?.resourceVersion ?? '',
            ...(token !== undefined && token !== '' ? { continue: token } : {}),
          };
        },
        async watch(resourceVersion, onEvent, done) {
          const query: Record<string, string | number | boolean> = {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          };
          if (c.fieldSelector !== undefined) query['fieldSelector'] = c.fieldSelector;
          const controller = await watcher.watch(
            path,
            query,
            (type: string, object: unknown) => onEvent({ type, object }),
            done,
          );
          return { abort: () => controller.abort() };
        },
      };
    },
    getSecret: (namespace, name) => core.readNamespacedSecret({ namespace, name }),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** `statusOf` reads the HTTP status from a client-node error (`ApiException.code`, watch `statusCode`). */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}
