/**
 * `conditions` holds what Portico's own CRD status writers (RateLimitPolicy, L4Route) share: the
 * `Accepted` condition merge under the metav1 conventions, and the GET / PUT-status client of a
 * namespaced custom object.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Condition, KindMap } from '../../model/objects.js';
import { RESOURCES } from '../client.js';
import { fromApiObject } from '../convert.js';
import { httpStatusOf } from './api.js';

export const ACCEPTED = 'Accepted';

/** `sameCondition` tells whether `current` already says what `want` says (transition time aside). */
export function sameCondition(current: Condition | undefined, want: Condition): boolean {
  return (
    current !== undefined &&
    current.status === want.status &&
    current.reason === want.reason &&
    current.message === want.message &&
    current.observedGeneration === want.observedGeneration
  );
}

/**
 * `withCondition` replaces the condition of `want.type`, keeping its transition time while its
 * status stays the same (metav1 convention) and the conditions of other types (another
 * controller's).
 */
export function withCondition(conditions: readonly Condition[], want: Condition): Condition[] {
  const current = conditions.find((c) => c.type === want.type);
  const condition: Condition =
    current !== undefined && current.status === want.status && current.lastTransitionTime !== ''
      ? { ...want, lastTransitionTime: current.lastTransitionTime }
      : want;
  return [...conditions.filter((c) => c.type !== want.type), condition];
}

/** `FetchedObject` is a custom object as just read: Portico's view and the raw object a PUT sends back. */
export interface FetchedObject<T> {
  readonly object: T;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** `CustomStatusClient` reads one kind of Portico's custom objects and replaces their status. */
export interface CustomStatusClient<T> {
  /** Undefined when the object does not exist. */
  get(namespace: string, name: string): Promise<FetchedObject<T> | undefined>;
  /** Replaces the status of the fetched version (its resourceVersion is the precondition: 409). */
  replaceStatus(fetched: FetchedObject<T>, status: unknown): Promise<void>;
}

/** `customStatusClient` backs `CustomStatusClient` with client-node's CustomObjectsApi. */
export function customStatusClient<K extends 'RateLimitPolicy' | 'L4Route'>(
  kubeConfig: KubeConfig,
  kind: K,
): CustomStatusClient<KindMap[K]> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const { group, version, plural } = RESOURCES[kind];
  return {
    async get(namespace, name) {
      let raw: unknown;
      try {
        raw = await api.getNamespacedCustomObject({ group, version, plural, namespace, name });
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
      const converted = fromApiObject(kind, raw);
      if (!converted.ok || typeof raw !== 'object' || raw === null) {
        throw new Error(
          `cannot read ${kind} ${namespace}/${name}: ${converted.ok ? 'not an object' : converted.message}`,
        );
      }
      return { object: converted.object as KindMap[K], raw: raw as Record<string, unknown> };
    },
    async replaceStatus(fetched, status) {
      const meta = (fetched.object as { metadata: { namespace?: string; name: string } }).metadata;
      await api.replaceNamespacedCustomObjectStatus({
        group,
        version,
        plural,
        namespace: meta.namespace ?? 'default',
        name: meta.name,
        body: { ...fetched.raw, status },
      });
    },
  };
}
