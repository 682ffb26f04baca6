/**
 * `canary` marks an Ingress as the canary of the main Ingress with the same host, path and
 * pathType, and says which requests it takes (ingress-nginx's `canary` package and the traffic
 * shaping in its `balancer.lua`). Translation attaches it (`translate/canary.ts`); the data plane
 * chooses per request (`proxy/canary.ts`).
 */
import { compileHeaderPattern } from '../../util/header-pattern.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { boolean, type Described, described, integer } from './validators.js';

const ok = <T>(value: T) => ({ ok: true as const, value });
const fail = (reason: string) => ({ ok: false as const, reason });

// RFC 9110 token: header and cookie names.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A header value Portico can compare with: visible ASCII and inner spaces (RFC 9110 field-value).
const FIELD_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/** `headerName` reads an HTTP header name (a token), lowercased for lookups. */
export const headerName: Described<string> = described((raw) => {
  const v = raw.trim();
  if (!TOKEN.test(v)) return fail("must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)");
  return ok(v.toLowerCase());
}, 'header name');

/** `cookieName` reads a cookie name (a token); case is kept, cookie names are case-sensitive. */
export const cookieName: Described<string> = described((raw) => {
  const v = raw.trim();
  if (!TOKEN.test(v)) return fail("must be a cookie name (letters, digits and !#$%&'*+.^_`|~-)");
  return ok(v);
}, 'cookie name');

const headerValue: Described<string> = described((raw) => {
  if (!FIELD_VALUE.test(raw)) return fail('must be a non-empty header value of visible ASCII characters');
  return ok(raw);
}, 'header value (exact match)');

const headerPattern: Described<string> = described((raw) => {
  if (raw === '') return fail('must not be empty');
  const compiled = compileHeaderPattern(raw);
  if (!compiled.ok) return fail(`is not a valid regular expression: ${compiled.reason}`);
  return ok(raw);
}, 'RE2 regular expression (unanchored)');

/** Largest weight total: far beyond any useful resolution, small enough to stay exact. */
export const MAX_WEIGHT_TOTAL = 1_000_000;

export const canaryAnnotations = defineAnnotations(
  'canary',
  'Canary releases: a second Ingress for the same host and path takes a share of the requests, chosen by header, cookie or weight.',
  {
    canary: {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: this Ingress is the canary of the main Ingress with the same host, path and pathType; it never serves a path, host default or catch-all on its own. A canary path without a main route is ignored (diagnostic).',
      differs:
        "A canary Ingress that claims a host no main Ingress serves is reported and ignored (ingress-nginx logs it). The oldest canary of a path wins; a younger one gets a diagnostic (ingress-nginx silently uses the first it merged). A canary `spec.defaultBackend` attaches to the main routes of rules without host (ingress-nginx merges it into its default server, whose catch-all location Portico does not give a canary). A canary Ingress's `spec.tls` and host-scoped annotations configure nothing, as in ingress-nginx.",
    },
    'canary-by-header': {
      validate: headerName,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Request header deciding first: `always` routes to the canary, `never` to the main backend; any other value falls through to the cookie, then the weight. With `canary-by-header-value` or `-pattern`, only a match routes to the canary (`always`/`never` are then plain values).',
    },
    'canary-by-header-value': {
      validate: headerValue,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Exact value of `canary-by-header` that routes to the canary; other values fall through to the cookie, then the weight. Beats `canary-by-header-pattern`.',
    },
    'canary-by-header-pattern': {
      validate: headerPattern,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: 'Regular expression (unanchored) on `canary-by-header`; a match routes to the canary, otherwise the cookie, then the weight decide. Ignored when `canary-by-header-value` is set.',
      differs:
        'RE2 syntax instead of PCRE: lookaround and backreferences are refused (the Ingress is rejected). Compiled once per configuration, never per request.',
    },
    'canary-by-cookie': {
      validate: cookieName,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Cookie deciding after the header: `always` routes to the canary, `never` to the main backend; any other value falls through to the weight.',
    },
    'canary-weight': {
      validate: integer(0, MAX_WEIGHT_TOTAL),
      scope: 'location',
      risk: 'low',
      default: '0',
      doc: 'Share of the remaining requests sent to the canary, out of `canary-weight-total`. A weight at or above the total sends them all.',
    },
    'canary-weight-total': {
      validate: integer(1, MAX_WEIGHT_TOTAL),
      scope: 'location',
      risk: 'low',
      default: '100',
      doc: 'Denominator of `canary-weight`.',
      differs: 'Totals below 100 are honoured; ingress-nginx silently uses 100 for them.',
    },
  },
);

/** `CanaryAnnotations` is a canary Ingress's traffic rule, before translation attaches it. */
export interface CanaryAnnotations {
  readonly byHeader?: string;
  readonly byHeaderValue?: string;
  readonly byHeaderPattern?: string;
  readonly byCookie?: string;
  readonly weight: number;
  readonly weightTotal: number;
  /** Field of the `canary` annotation, for diagnostics about attaching. */
  readonly field: string;
}

/**
 * `parseCanary` returns the rule when `canary` is `"true"`. Companions without it are reported
 * and ignored (ingress-nginx: "configured but not enabled"; the Ingress stays a main Ingress).
 */
export function parseCanary(reader: AnnotationReader): CanaryAnnotations | undefined {
  const enabled = reader.read(canaryAnnotations, 'canary');
  const header = reader.read(canaryAnnotations, 'canary-by-header');
  const value = reader.read(canaryAnnotations, 'canary-by-header-value');
  const pattern = reader.read(canaryAnnotations, 'canary-by-header-pattern');
  const cookie = reader.read(canaryAnnotations, 'canary-by-cookie');
  const weight = reader.read(canaryAnnotations, 'canary-weight');
  const total = reader.read(canaryAnnotations, 'canary-weight-total');
  const companions: (FieldValue<unknown> | undefined)[] = [header, value, pattern, cookie, weight, total];
  if (enabled?.value !== true) {
    for (const c of companions) {
      if (c !== undefined)
        reader.warning(c.field, `${c.key} is ignored: this Ingress is not a canary (canary is not "true")`);
    }
    return undefined;
  }
  if (header === undefined) {
    for (const c of [value, pattern]) {
      if (c !== undefined) reader.warning(c.field, `${c.key} is ignored without canary-by-header`);
    }
  } else if (value !== undefined && pattern !== undefined) {
    reader.warning(pattern.field, `${pattern.key} is ignored: canary-by-header-value is set and wins`);
  }
  const weightTotal = total?.value ?? 100;
  let w = weight?.value ?? 0;
  if (weight !== undefined && w > weightTotal) {
    reader.warning(
      weight.field,
      `${weight.key} ${w} is above canary-weight-total ${weightTotal}: every request goes to the canary`,
    );
    w = weightTotal;
  }
  return {
    ...(header !== undefined ? { byHeader: header.value } : {}),
    ...(header !== undefined && value !== undefined ? { byHeaderValue: value.value } : {}),
    ...(header !== undefined && value === undefined && pattern !== undefined
      ? { byHeaderPattern: pattern.value }
      : {}),
    ...(cookie !== undefined ? { byCookie: cookie.value } : {}),
    weight: w,
    weightTotal,
    field: enabled.field,
  };
}
