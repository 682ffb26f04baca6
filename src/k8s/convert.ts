/**
 * `convert` turns what the API server (through `@kubernetes/client-node`) hands us into Portico's
 * own readonly object types, so nothing past `src/k8s` depends on the library's classes.
 *
 * Objects arrive in two dialects: list responses go through client-node's typed deserialiser
 * (class instances, `creationTimestamp` as a `Date`, no `kind`/`apiVersion` on items), watch events
 * are plain JSON. Both are normalised to plain JSON first, then shape-checked by the same converter
 * file mode uses, which also drops every field Portico does not read (managedFields, hints, …):
 * that keeps the store small, which matters for EndpointSlices in large clusters.
 */
import { convertDocument } from '../files/convert.js';
import {
  type Condition,
  type KubeKind,
  type KubeObject,
  L4_ROUTE_API_VERSION,
  type LoadBalancerIngress,
  RATE_LIMIT_POLICY_API_VERSION,
} from '../model/objects.js';

/** `API_VERSIONS` is the group/version Portico reads each kind at. */
export const API_VERSIONS: Readonly<Record<KubeKind, string>> = {
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  RateLimitPolicy: RATE_LIMIT_POLICY_API_VERSION,
  L4Route: L4_ROUTE_API_VERSION,
};

export type ApiConversion =
  | { readonly ok: true; readonly object: KubeObject }
  | { readonly ok: false; readonly field: string; readonly message: string };

/**
 * `fromApiObject` converts one API object of `kind` to Portico's type. The API server has
 * validated it already, so a failure means a client-node or API change, not a user error.
 */
export function fromApiObject(kind: KubeKind, value: unknown): ApiConversion {
  const plain = toPlain(value);
  if (!isRecord(plain)) return { ok: false, field: '', message: 'not an object' };
  const metadata = plain['metadata'];
  if (isRecord(metadata)) delete metadata['managedFields'];
  // List items carry no kind or apiVersion; the list they came from says what they are.
  const doc = { ...plain, kind, apiVersion: API_VERSIONS[kind] };
  const result = convertDocument(doc, '');
  switch (result.kind) {
    case 'object': {
      if (kind === 'RateLimitPolicy' || kind === 'L4Route') {
        // Kept so the status writers can skip writes that would change nothing.
        const status = policyStatus(plain['status']);
        return { ok: true, object: status ? ({ ...result.object, status } as KubeObject) : result.object };
      }
      const status = loadBalancerStatus(kind, plain['status']);
      // Kept for Ingress and Service: the status writer compares against it to skip no-op writes,
      // and --publish-service reads the Service's addresses from it.
      return { ok: true, object: status ? ({ ...result.object, status } as KubeObject) : result.object };
    }
    case 'invalid':
      return { ok: false, field: result.field, message: result.message };
    case 'list':
      return { ok: false, field: 'kind', message: 'unexpected List' };
    case 'skipped':
      return { ok: false, field: 'kind', message: `unexpected kind ${result.what}` };
  }
}

function loadBalancerStatus(
  kind: KubeKind,
  status: unknown,
): { loadBalancer: { ingress?: LoadBalancerIngress[] } } | undefined {
  if (kind !== 'Ingress' && kind !== 'Service') return undefined;
  if (!isRecord(status) || !isRecord(status['loadBalancer'])) return undefined;
  const raw = status['loadBalancer']['ingress'];
  if (!Array.isArray(raw)) return { loadBalancer: {} };
  const ingress: LoadBalancerIngress[] = [];
  for (const entry of raw) {
    if (!isRecord(entry)) continue;
    const ip = entry['ip'];
    const hostname = entry['hostname'];
    ingress.push({
      ...(typeof ip === 'string' ? { ip } : {}),
      ...(typeof hostname === 'string' ? { hostname } : {}),
    });
  }
  return { loadBalancer: { ingress } };
}

function policyStatus(
  status: unknown,
): { observedGeneration?: number; mode?: string; conditions: Condition[] } | undefined {
  if (!isRecord(status)) return undefined;
  const conditions: Condition[] = [];
  for (const c of Array.isArray(status['conditions']) ? status['conditions'] : []) {
    if (!isRecord(c) || typeof c['type'] !== 'string') continue;
    const s = c['status'];
    conditions.push({
      type: c['type'],
      status: s === 'True' || s === 'False' ? s : 'Unknown',
      ...(typeof c['observedGeneration'] === 'number' ? { observedGeneration: c['observedGeneration'] } : {}),
      lastTransitionTime: typeof c['lastTransitionTime'] === 'string' ? c['lastTransitionTime'] : '',
      reason: typeof c['reason'] === 'string' ? c['reason'] : '',
      message: typeof c['message'] === 'string' ? c['message'] : '',
    });
  }
  const generation = status['observedGeneration'];
  const mode = status['mode'];
  return {
    ...(typeof generation === 'number' ? { observedGeneration: generation } : {}),
    // L4Route only: the --l4-mode of the Portico that wrote the status.
    ...(typeof mode === 'string' ? { mode } : {}),
    conditions,
  };
}

/**
 * `toPlain` deep-copies a value into plain JSON: class instances become plain objects, `Date`s
 * become RFC 3339 strings as the API server writes them, `undefined` members are left out.
 */
export function toPlain(value: unknown): unknown {
  if (value instanceof Date) return formatTime(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toPlain(v);
    }
    return out;
  }
  return value;
}

/**
 * `formatTime` writes a time as metav1.Time does (RFC 3339 in UTC, no fraction when it is whole
 * seconds, which metav1.Time always is), so the same object yields the same string whether it came
 * from a list (a `Date`) or a watch (a string), and creation-time ordering (oldest Ingress wins a
 * conflict) compares like with like.
 */
export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return '';
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/** `ObjectRef` is the namespace, name and resourceVersion read from any API object. */
export interface ObjectRef {
  readonly namespace: string | undefined;
  readonly name: string;
  readonly resourceVersion: string;
}

/** `refOf` reads an object's identity without converting it (cheap, for every watch event). */
export function refOf(value: unknown): ObjectRef | undefined {
  if (!isRecord(value) || !isRecord(value['metadata'])) return undefined;
  const m = value['metadata'];
  const name = m['name'];
  if (typeof name !== 'string' || name === '') return undefined;
  const namespace = m['namespace'];
  const rv = m['resourceVersion'];
  return {
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : undefined,
    name,
    resourceVersion: typeof rv === 'string' ? rv : '',
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
