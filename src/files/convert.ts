/**
 * `convert` turns one parsed manifest document into Portico's object types. User YAML is
 * unvalidated, so every field the store types declare is checked for its JSON type here, once, at
 * the edge: past this point code may trust that `spec.rules` is an array.
 */
import { KNOWN_KINDS, type KubeKind, type KubeObject } from '../model/objects.js';

/** `Shape` is the JSON type a field must have. */
export type Shape =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'int-or-string'
  | 'string-map'
  /** Any object, kept as written: its content is validated later by a layer that knows it better. */
  | 'object'
  | { readonly array: Shape }
  | { readonly object: Readonly<Record<string, Shape>>; readonly required?: readonly string[] };

const str = 'string' as const;
const stringList: Shape = { array: str };

const metadata: Shape = {
  object: {
    name: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    generation: 'integer',
    creationTimestamp: str,
    labels: 'string-map',
    annotations: 'string-map',
  },
  required: ['name'],
};

const ingressClassSpec: Shape = {
  object: {
    controller: str,
    parameters: {
      object: { apiGroup: str, kind: str, name: str, namespace: str, scope: str },
      required: ['kind', 'name'],
    },
  },
};

const serviceSpec: Shape = {
  object: {
    type: str,
    clusterIP: str,
    clusterIPs: stringList,
    externalName: str,
    externalIPs: stringList,
    ports: {
      array: {
        object: {
          name: str,
          protocol: str,
          appProtocol: str,
          port: 'integer',
          targetPort: 'int-or-string',
          nodePort: 'integer',
        },
        required: ['port'],
      },
    },
    selector: 'string-map',
  },
};

/** Top-level fields kept per kind; `status` and unknown fields are dropped. */
const TOP_LEVEL: Readonly<Record<KubeKind, Readonly<Record<string, Shape>>>> = {
  // The routing core validates Ingress specs field by field (validateIngress), and the controller
  // keeps an Ingress's last good version when they fail; checking here would drop it instead.
  Ingress: { spec: 'object' },
  IngressClass: { spec: ingressClassSpec },
  Service: { spec: serviceSpec },
  EndpointSlice: {
    addressType: str,
    endpoints: {
      array: {
        object: {
          addresses: stringList,
          conditions: { object: { ready: 'boolean', serving: 'boolean', terminating: 'boolean' } },
          hostname: str,
          nodeName: str,
          zone: str,
        },
        required: ['addresses'],
      },
    },
    ports: { array: { object: { name: str, protocol: str, port: 'integer', appProtocol: str } } },
  },
  Secret: { type: str, data: 'string-map', stringData: 'string-map' },
  ConfigMap: { data: 'string-map' },
  // Validated field by field by model/rate-limit-policy.ts, which names every bad field in the
  // policy's status; rejecting the document here would hide the policy instead.
  RateLimitPolicy: { spec: 'object' },
  // Same reason: l4/route.ts names every bad field in the route's status.
  L4Route: { spec: 'object' },
};

const REQUIRED_TOP_LEVEL: Readonly<Partial<Record<KubeKind, readonly string[]>>> = {
  EndpointSlice: ['addressType'],
};

/** `CLUSTER_SCOPED` kinds have no namespace. */
const CLUSTER_SCOPED: ReadonlySet<KubeKind> = new Set<KubeKind>(['IngressClass']);

export type ConvertResult =
  | { readonly kind: 'object'; readonly object: KubeObject }
  | { readonly kind: 'list'; readonly items: readonly unknown[] }
  | { readonly kind: 'skipped'; readonly what: string }
  | {
      readonly kind: 'invalid';
      readonly field: string;
      readonly message: string;
      /** Which object the document meant to be, when kind and name were readable. */
      readonly identity?: ObjectIdentity;
    };

/** `ObjectIdentity` names an object by kind, namespace and name. */
export interface ObjectIdentity {
  readonly kind: KubeKind;
  readonly namespace: string | undefined;
  readonly name: string;
}

/**
 * `convertDocument` checks one document and returns a store object (namespaced kinds default to
 * `defaultNamespace`), a `kind: List` to unpack, a skipped kind, or the first invalid field.
 */
export function convertDocument(value: unknown, defaultNamespace = 'default'): ConvertResult {
  if (!isRecord(value))
    return { kind: 'invalid', field: '', message: `expected an object, got ${typeName(value)}` };
  const kind = value['kind'];
  if (typeof kind !== 'string' || kind === '') {
    return { kind: 'invalid', field: 'kind', message: 'missing or non-string kind' };
  }
  if (kind === 'List') {
    const items = value['items'];
    if (items === undefined || items === null) return { kind: 'list', items: [] };
    if (!Array.isArray(items)) return { kind: 'invalid', field: 'items', message: 'items must be a list' };
    return { kind: 'list', items };
  }
  if (!isKnownKind(kind)) {
    const apiVersion = typeof value['apiVersion'] === 'string' ? `${value['apiVersion']} ` : '';
    return { kind: 'skipped', what: `${apiVersion}${kind}` };
  }
  const meta = value['metadata'];
  if (!isRecord(meta)) return { kind: 'invalid', field: 'metadata', message: 'missing metadata' };
  if (typeof meta['name'] !== 'string' || meta['name'] === '') {
    return { kind: 'invalid', field: 'metadata.name', message: 'missing or non-string metadata.name' };
  }
  const name = meta['name'];
  const rawNamespace =
    typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : undefined;
  const identity: ObjectIdentity = {
    kind,
    namespace: CLUSTER_SCOPED.has(kind) ? undefined : (rawNamespace ?? defaultNamespace),
    name,
  };
  const invalid = (field: string, message: string): ConvertResult => ({
    kind: 'invalid',
    field,
    message,
    identity,
  });
  const out: Record<string, unknown> = { kind };
  if (typeof value['apiVersion'] === 'string') out['apiVersion'] = value['apiVersion'];
  const checkedMeta = check(meta, metadata, 'metadata');
  if (!checkedMeta.ok) return invalid(checkedMeta.field, checkedMeta.message);
  const m = checkedMeta.value as Record<string, unknown>;
  if (identity.namespace === undefined) delete m['namespace'];
  else m['namespace'] = identity.namespace;
  out['metadata'] = m;
  for (const required of REQUIRED_TOP_LEVEL[kind] ?? []) {
    if (value[required] === undefined || value[required] === null)
      return invalid(required, `missing ${required}`);
  }
  for (const [field, shape] of Object.entries(TOP_LEVEL[kind])) {
    const v = value[field];
    if (v === undefined || v === null) continue;
    const checked = check(v, shape, field);
    if (!checked.ok) return invalid(checked.field, checked.message);
    out[field] = checked.value;
  }
  // The shapes above mirror the interfaces in model/objects.ts field by field.
  return { kind: 'object', object: out as unknown as KubeObject };
}

type Checked = { ok: true; value: unknown } | { ok: false; field: string; message: string };

function check(value: unknown, shape: Shape, field: string): Checked {
  const wrong = (want: string): Checked => ({
    ok: false,
    field,
    message: `${field} must be ${want}, got ${typeName(value)}`,
  });
  switch (shape) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : wrong('a string');
    case 'integer':
      return Number.isInteger(value) ? { ok: true, value } : wrong('an integer');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? { ok: true, value } : wrong('a number');
    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : wrong('a boolean');
    case 'int-or-string':
      return Number.isInteger(value) || typeof value === 'string'
        ? { ok: true, value }
        : wrong('an integer or a string');
    case 'object':
      return isRecord(value) ? { ok: true, value } : wrong('an object');
    case 'string-map': {
      if (!isRecord(value)) return wrong('a map of strings');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') {
          return {
            ok: false,
            field: `${field}["${k}"]`,
            message: `${field}["${k}"] must be a string (quote it), got ${typeName(v)}`,
          };
        }
      }
      return { ok: true, value: { ...value } };
    }
  }
  if ('array' in shape) {
    if (!Array.isArray(value)) return wrong('a list');
    const items: unknown[] = [];
    for (const [i, item] of value.entries()) {
      const c = check(item, shape.array, `${field}[${i}]`);
      if (!c.ok) return c;
      items.push(c.value);
    }
    return { ok: true, value: items };
  }
  if (!isRecord(value)) return wrong('an object');
  const out: Record<string, unknown> = {};
  for (const required of shape.required ?? []) {
    if (value[required] === undefined || value[required] === null) {
      return { ok: false, field, message: `${field}.${required} is required` };
    }
  }
  for (const [k, s] of Object.entries(shape.object)) {
    const v = value[k];
    if (v === undefined || v === null) continue;
    const c = check(v, s, `${field}.${k}`);
    if (!c.ok) return c;
    out[k] = c.value;
  }
  return { ok: true, value: out };
}

function isKnownKind(kind: string): kind is KubeKind {
  return (KNOWN_KINDS as readonly string[]).includes(kind);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
