/**
 * `load-balance` chooses how a route's first endpoint is picked: round robin (the default), peak
 * EWMA of response times, or a consistent hash of request values (`upstream-hash-by`), as
 * ingress-nginx's `loadbalancing` and `upstreamhashby` packages and `balancer/{ewma,chash*}.lua`.
 * Session affinity (`affinity.ts`) takes precedence over all of them.
 */
import type { Parsed } from '../settings/validators.js';
import type { LoadBalancePolicy } from '../types.js';
import { parseTemplate, type TemplatePart } from './external-auth.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described, integer, oneOf } from './validators.js';

/** Variables `upstream-hash-by` may use, besides `$http_<header>`, `$cookie_<name>` and `$arg_<name>`. */
export const HASH_VARIABLES: readonly string[] = [
  'request_uri',
  'uri',
  'args',
  'query_string',
  'remote_addr',
  'binary_remote_addr',
  'host',
  'scheme',
  'request_method',
];

const PREFIXED = /^(http|cookie|arg)_[A-Za-z0-9_]+$/;

/** `isHashVariable` says whether `upstream-hash-by` may use `$name`. */
export function isHashVariable(name: string): boolean {
  return HASH_VARIABLES.includes(name) || PREFIXED.test(name);
}

const known = `${HASH_VARIABLES.map((v) => `$${v}`).join(', ')}, $http_<header>, $cookie_<name>, $arg_<name>`;
const MAX_HASH_TEMPLATE = 256;

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** `parseHashTemplate` splits an `upstream-hash-by` value into text and known variables. */
export function parseHashTemplate(raw: string): Parsed<readonly TemplatePart[]> {
  if (raw.length > MAX_HASH_TEMPLATE)
    return { ok: false, reason: `must be at most ${MAX_HASH_TEMPLATE} characters` };
  if (hasControlCharacter(raw)) return { ok: false, reason: 'must not contain control characters' };
  const parsed = parseTemplate(raw, isHashVariable, known);
  if (!parsed.ok) return parsed;
  if (!parsed.value.some((p) => p.kind === 'var')) {
    return {
      ok: false,
      reason:
        'must use at least one variable (e.g. $request_uri, $remote_addr): a constant key sends every request to one endpoint',
    };
  }
  return parsed;
}

const hashTemplate: Described<string> = described(
  (raw) => {
    const v = raw.trim();
    const parsed = parseHashTemplate(v);
    return parsed.ok ? { ok: true, value: v } : parsed;
  },
  `text with ${HASH_VARIABLES.map((v) => `\`$${v}\``).join(', ')}, \`$http_<header>\`, \`$cookie_<name>\`, \`$arg_<name>\``,
);

export const loadBalanceAnnotations = defineAnnotations(
  'load-balance',
  "How the first endpoint of a route's backend is chosen (a retry takes the next one).",
  {
    'load-balance': {
      validate: oneOf(['round_robin', 'ewma'] as const),
      scope: 'location',
      risk: 'low',
      default: 'round_robin (ConfigMap `load-balance`)',
      doc: '`round_robin`: each endpoint in turn; `ewma`: the better of two random endpoints by peak-EWMA response time (10 s decay), as ingress-nginx.',
    },
    'upstream-hash-by': {
      validate: hashTemplate,
      scope: 'location',
      risk: 'high',
      default: '(none)',
      doc: 'Consistent hashing: requests whose expanded template is equal go to the same endpoint while it stays ready; adding or removing an endpoint moves only the keys it gains or loses. Overrides `load-balance`.',
      differs:
        'Only a fixed list of variables is expanded (others are refused); placement is rendezvous hashing rather than resty.chash, so keys do not land on the same endpoints as under ingress-nginx.',
    },
    'upstream-hash-by-subset': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: hash onto groups of `upstream-hash-by-subset-size` endpoints, then pick one of the group at random.',
    },
    'upstream-hash-by-subset-size': {
      validate: integer(1, 1_000),
      scope: 'location',
      risk: 'low',
      default: '3',
      doc: 'Endpoints per group with `upstream-hash-by-subset`.',
    },
  },
);

/**
 * `parseLoadBalance` returns the policy when one of the family's annotations chooses one. With
 * cookie affinity on the same Ingress (`affinity`), affinity places the requests: the choice is
 * kept (a canary may use it) but reported as not in force, as ingress-nginx silently prefers affinity.
 */
export function parseLoadBalance(reader: AnnotationReader, affinity = false): LoadBalancePolicy | undefined {
  const kind = reader.read(loadBalanceAnnotations, 'load-balance');
  const hashBy = reader.read(loadBalanceAnnotations, 'upstream-hash-by');
  const subset = reader.read(loadBalanceAnnotations, 'upstream-hash-by-subset');
  const size = reader.read(loadBalanceAnnotations, 'upstream-hash-by-subset-size');
  const chosen = hashBy ?? kind;
  if (affinity && chosen !== undefined) {
    reader.warning(
      chosen.field,
      `${chosen.key} is not in force: affinity "cookie" places the requests of this Ingress`,
    );
  }
  if (hashBy === undefined) {
    for (const c of [subset, size]) {
      if (c !== undefined) reader.warning(c.field, `${c.key} is ignored without upstream-hash-by`);
    }
    return kind === undefined ? undefined : { kind: kind.value };
  }
  if (kind !== undefined) {
    reader.warning(kind.field, `${kind.key} is ignored: upstream-hash-by is set and wins`);
  }
  if (subset?.value !== true && size !== undefined) {
    reader.warning(size.field, `${size.key} is ignored without upstream-hash-by-subset: "true"`);
  }
  return {
    kind: 'hash',
    key: hashBy.value,
    ...(subset?.value === true ? { subset: { size: size?.value ?? 3 } } : {}),
  };
}
