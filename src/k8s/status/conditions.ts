/**
 * `conditions` holds what Portico's own CRD status writers (RateLimitPolicy, L4Route) share: the
 * `Accepted` condition merge under the metav1 conventions, and the GET / PUT-status client of a
 * namespaced custom object.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { Condition, KindMap } from '../../model/objects.js';
import { RESOURCES } from '../client.js';
import { fromApiObject } from '../convert.js';
import { describeError, httpStatusOf } from './api.js';

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

/** `StatusWriteOutcome` is what one status write came to. */
export type StatusWriteOutcome = 'updated' | 'unchanged' | 'gone' | 'not-leader' | 'conflict' | 'error';

/** `StatusWrite` is one object's status update, as `writeStatus` runs it. */
export interface StatusWrite<F, S extends { readonly conditions: readonly Condition[] }> {
  /** The kind, for log lines (`RateLimitPolicy`, `L4Route`). */
  readonly kind: string;
  /** The log field naming the object (`policy`, `route`) and its `"namespace/name"`. */
  readonly field: string;
  readonly key: string;
  readonly maxAttempts: number;
  readonly logger: Logger;
  readonly get: () => Promise<F | undefined>;
  /** The status to write for what was just read, undefined when it already says it. */
  readonly desired: (fetched: F) => S | undefined;
  readonly put: (fetched: F, status: S) => Promise<void>;
  /** False once the writer stopped or lost the leadership. */
  readonly mayWrite: () => boolean;
}

/**
 * `writeStatus` brings one object's status up to date: GET, compare, PUT of the status
 * subresource with the fetched resourceVersion; 409 → again, a bounded number of times.
 */
export async function writeStatus<F, S extends { readonly conditions: readonly Condition[] }>(
  w: StatusWrite<F, S>,
): Promise<StatusWriteOutcome> {
  const who = { [w.field]: w.key };
  for (let attempt = 1; attempt <= w.maxAttempts; attempt++) {
    let fetched: F | undefined;
    try {
      fetched = await w.get();
    } catch (err) {
      w.logger.warn({ ...who, err: describeError(err) }, `reading ${w.kind} for a status update failed`);
      return 'error';
    }
    if (fetched === undefined) return 'gone';
    const status = w.desired(fetched);
    if (status === undefined) return 'unchanged';
    if (!w.mayWrite()) return 'not-leader';
    try {
      await w.put(fetched, status);
      const accepted = status.conditions.find((c) => c.type === ACCEPTED);
      w.logger.info(
        { ...who, accepted: accepted?.status, message: accepted?.message },
        `${w.kind} status updated`,
      );
      return 'updated';
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 409) continue;
      if (code === 404) return 'gone';
      w.logger.warn({ ...who, err: describeError(err) }, `${w.kind} status update failed`);
      return 'error';
    }
  }
  w.logger.warn({ ...who, attempts: w.maxAttempts }, `${w.kind} status update kept conflicting; will retry`);
  return 'conflict';
}
