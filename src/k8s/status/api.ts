/**
 * `api` is the `@kubernetes/client-node` edge of cluster reporting for Ingress status and the
 * NodePort address lookup: it converts to Portico's types and maps API errors to HTTP codes, so the
 * writer and its tests never see client-node types. Every call here is listed in `permissions.ts`.
 */
import { CoreV1Api, type KubeConfig, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import type { Ingress, LoadBalancerIngress } from '../../model/objects.js';
import type { NodeAddress, NodeLookup, PodPlacement } from './address.js';

/**
 * `httpStatusOf` returns the HTTP status of a failed API call (client-node's `ApiException.code`),
 * or undefined for a transport error.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'number' && code >= 100 && code < 600) return code;
  }
  return undefined;
}

/** `describeError` is a short, log-friendly form of an API error (client-node's messages embed whole bodies). */
export function describeError(err: unknown): string {
  const status = httpStatusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const short = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  return status === undefined ? short : `HTTP ${status}: ${short}`;
}

/**
 * `FetchedIngress` is an Ingress as just read from the API server: Portico's view of it, and the
 * client's own copy (`raw`) that an update sends back, so fields Portico does not model survive.
 */
export interface FetchedIngress<Raw> {
  readonly ingress: Ingress;
  readonly raw: Raw;
}

/** `IngressStatusApi` is what the status writer needs: GET an Ingress, PUT its status subresource. */
export interface IngressStatusApi<Raw = unknown> {
  /** Undefined when the Ingress does not exist. */
  getIngress(namespace: string, name: string): Promise<FetchedIngress<Raw> | undefined>;
  /**
   * Replaces `status.loadBalancer.ingress` of the fetched version. The fetched resourceVersion is a
   * precondition: a concurrent change fails with HTTP 409.
   */
  updateIngressStatus(fetched: FetchedIngress<Raw>, addresses: readonly LoadBalancerIngress[]): Promise<void>;
}

/** `createIngressStatusApi` backs `IngressStatusApi` with client-node's NetworkingV1Api. */
export function createIngressStatusApi(kubeConfig: KubeConfig): IngressStatusApi<V1Ingress> {
  const api = kubeConfig.makeApiClient(NetworkingV1Api);
  return {
    async getIngress(namespace, name) {
      try {
        const raw = await api.readNamespacedIngress({ name, namespace });
        return { ingress: toIngress(raw), raw };
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async updateIngressStatus(fetched, addresses) {
      const raw = fetched.raw;
      const body: V1Ingress = {
        ...raw,
        status: { ...raw.status, loadBalancer: { ingress: addresses.map((a) => ({ ...a })) } },
      };
      await api.replaceNamespacedIngressStatus({
        name: raw.metadata?.name ?? fetched.ingress.metadata.name,
        namespace: raw.metadata?.namespace ?? fetched.ingress.metadata.namespace ?? 'default',
        body,
      });
    },
  };
}

/** `createNodeLookup` backs `NodeLookup` with client-node's CoreV1Api (pods list, nodes get). */
export function createNodeLookup(kubeConfig: KubeConfig): NodeLookup {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async listPods(namespace, selector) {
      const labelSelector = Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(',');
      const list = await api.listNamespacedPod({ namespace, labelSelector });
      return list.items.map(
        (pod): PodPlacement => ({
          ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
          ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
          terminating:
            pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
        }),
      );
    },
    async getNodeAddresses(name) {
      try {
        const node = await api.readNode({ name });
        return (node.status?.addresses ?? []).map((a): NodeAddress => ({ type: a.type, address: a.address }));
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
  };
}

/**
 * `toIngress` converts what class decisions and status comparison read: identity, class annotation,
 * `spec.ingressClassName` and the current load-balancer status.
 */
function toIngress(raw: V1Ingress): Ingress {
  const meta = raw.metadata ?? {};
  const lb = raw.status?.loadBalancer?.ingress ?? [];
  return {
    kind: 'Ingress',
    apiVersion: 'networking.k8s.io/v1',
    metadata: {
      name: meta.name ?? '',
      ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
      ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
      ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {}),
      ...(meta.annotations !== undefined ? { annotations: { ...meta.annotations } } : {}),
    },
    spec: raw.spec?.ingressClassName !== undefined ? { ingressClassName: raw.spec.ingressClassName } : {},
    status: {
      loadBalancer: {
        ingress: lb.map((e) => ({
          ...(e.ip !== undefined ? { ip: e.ip } : {}),
          ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
        })),
      },
    },
  };
}
