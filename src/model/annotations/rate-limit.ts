/**
 * `rate-limit` is the rate-limit configuration family: Portico's own `portico.dev/limit-*` spelling
 * and ingress-nginx's `nginx.ingress.kubernetes.io/limit-*` spelling, which share names but not
 * meaning, so they are two tables. Location scoped. This module only turns values into a
 * `RateLimitConfig` (token buckets already sized); counting is `policy/rate-limit/`.
 *
 * ingress-nginx, as read in kubernetes/ingress-nginx:
 * - `internal/ingress/annotations/ratelimit/main.go`: `limit-rps`, `limit-rpm` and
 *   `limit-connections` are read with `GetIntAnnotation` (0 or unreadable: no limit), the zone's
 *   `Burst` is `limit × limit-burst-multiplier` (default `defBurst = 5`), one zone per Ingress
 *   (`namespace_name_uid`), and `limit-whitelist` (now also `limit-allowlist`) lists CIDRs exempt
 *   from every zone.
 * - `internal/ingress/controller/template/template.go` `buildRateLimit`: `limit_conn <zone> <conn>;`
 *   then `limit_req zone=<rps zone> burst=<R×M> nodelay;` then the same for rpm; the zones are
 *   `rate=<R>r/s` and `rate=<R>r/m`, keyed by `$binary_remote_addr` (allow-listed clients get an
 *   empty key, which nginx does not count).
 * nginx's `limit_req burst=B nodelay` admits B + 1 requests back to back from rest and refills
 * one per 1/rate: a token bucket of capacity R×M + 1 refilled at R per second (R/60 for rpm).
 * Refused requests get the ConfigMap's `limit-req-status-code` / `limit-conn-status-code`, so the
 * nginx dialect leaves `status` absent and the request-time chain applies the ConfigMap.
 */
import type { RateLimitBucket, RateLimitConfig, RateLimitKey } from '../types.js';
import { cidrSet } from './ip-filter.js';
import { type AnnotationReader, defineAnnotations, type FieldValue, type Parsed } from './spec.js';
import { boolean, type Described, described, integer, oneOf } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/** Large enough for any real limit, small enough that R×M + 1 stays an exact integer. */
export const MAX_RATE = 1_000_000;
export const MAX_BURST_MULTIPLIER = 1_000;
/** ingress-nginx's `defBurst`. */
export const DEFAULT_BURST_MULTIPLIER = 5;
export const DEFAULT_LIMIT_STATUS = 429;

// RFC 9110 token: what a header field name and (RFC 6265) a cookie name are made of.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `rateLimitKey` reads `limit-key`: `remote-ip`, `host`, `header:<name>` or `cookie:<name>`. Names
 * must be RFC 9110 tokens (no spaces, colons or quotes), so a key can never smuggle a second
 * header; header names are lower-cased as Node delivers them, cookie names are case-sensitive.
 */
export const rateLimitKey: Described<RateLimitKey> = described((raw): Parsed<RateLimitKey> => {
  const v = raw.trim();
  if (v === 'remote-ip') return ok({ kind: 'remote-ip' });
  if (v === 'host') return ok({ kind: 'host' });
  const colon = v.indexOf(':');
  const kind = colon === -1 ? '' : v.slice(0, colon);
  const name = colon === -1 ? '' : v.slice(colon + 1);
  if (kind !== 'header' && kind !== 'cookie') {
    return fail('must be "remote-ip", "host", "header:<name>" or "cookie:<name>"');
  }
  if (!TOKEN.test(name)) {
    return fail(
      `${kind} name ${JSON.stringify(name)} must be a token (letters, digits and !#$%&'*+-.^_\`|~)`,
    );
  }
  return ok(kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name });
}, '`remote-ip`, `host`, `header:<name>`, `cookie:<name>`');

// RFC 1123 DNS subdomain: what Kubernetes object names must be.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `policyName` reads `rate-limit-policy`: a RateLimitPolicy name, always in the Ingress's namespace. */
export const policyName: Described<string> = described((raw) => {
  const v = raw.trim();
  if (v.includes('/')) {
    return fail("must be a RateLimitPolicy name in the Ingress's namespace (no namespace/ prefix)");
  }
  if (v.length === 0 || v.length > 253 || !DNS_SUBDOMAIN.test(v)) {
    return fail('must be a RateLimitPolicy name (a DNS subdomain)');
  }
  return ok(v);
}, 'RateLimitPolicy name (same namespace as the Ingress)');

/** `statusCode` reads `limit-status-code`: client or server error statuses only. */
export const statusCode: Described<number> = integer(400, 599);

export const rateLimitAnnotations = defineAnnotations(
  'rate-limit',
  "Portico's rate limits: a token bucket per client key, of capacity `limit-rps + limit-burst`, refilled at `limit-rps` per second (10 rps + burst 5 admits 15 simultaneous requests, the 16th 100 ms later). Refused requests get `limit-status-code` (429), `Retry-After` and `RateLimit-*` headers. When any `portico.dev/limit-rps`, `limit-rpm` or `limit-connections` is set, `nginx.ingress.kubernetes.io/limit-*` annotations of the Ingress are ignored (with a warning): the two spellings count differently and are never mixed. `rate-limit-policy` wins over both.",
  {
    'limit-rps': {
      validate: integer(1, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '(no limit)',
      doc: 'Requests per second per key; the bucket holds `limit-rps + limit-burst` tokens.',
      differs:
        'Same name as ingress-nginx, other meaning: the burst is `limit-burst` extra requests, not `limit-rps × limit-burst-multiplier`.',
      prefixes: ['portico.dev'],
    },
    'limit-rpm': {
      validate: integer(1, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '(no limit)',
      doc: "Requests per minute per key: a bucket of `limit-rpm + limit-burst` tokens (a minute's worth, so a rested client may spend it at once), refilled at `limit-rpm / 60` per second. With `limit-rps` too, a request must fit both buckets.",
      differs: 'The burst is `limit-burst` extra requests, not `limit-rpm × limit-burst-multiplier`.',
      prefixes: ['portico.dev'],
    },
    'limit-burst': {
      validate: integer(0, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '0',
      doc: 'Extra requests a rested client may send at once, on top of `limit-rps` (and of `limit-rpm`). Needs `limit-rps` or `limit-rpm`.',
      differs: 'Portico only; ingress-nginx has `limit-burst-multiplier`.',
      prefixes: ['portico.dev'],
    },
    'limit-connections': {
      validate: integer(1, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '(no limit)',
      doc: 'Concurrent requests per key; checked before the rate limit.',
      differs:
        'Portico only in this meaning: counted per `limit-key` (nginx counts per client address; both count each HTTP/2 stream).',
      prefixes: ['portico.dev'],
    },
    'limit-key': {
      validate: rateLimitKey,
      scope: 'location',
      risk: 'medium',
      default: 'remote-ip',
      doc: 'What is counted: the client address (`remote-ip`, see `--trusted-proxies`), the `Host` (`host`), a request header (`header:X-Api-Key`) or a cookie (`cookie:session`). Requests without the header or cookie share one key.',
      differs: 'Portico only; ingress-nginx always counts by client address.',
      prefixes: ['portico.dev'],
    },
    'limit-scope': {
      validate: oneOf(['ingress', 'path']),
      scope: 'location',
      risk: 'low',
      default: 'ingress',
      doc: '`ingress`: one count for all routes of the Ingress (as ingress-nginx); `path`: one count per route.',
      differs: 'Portico only.',
      prefixes: ['portico.dev'],
    },
    'limit-allowlist': {
      validate: cidrSet,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Clients in these ranges are never limited.',
      prefixes: ['portico.dev'],
    },
    'limit-status-code': {
      validate: statusCode,
      scope: 'location',
      risk: 'low',
      default: '429',
      doc: 'Status of refused requests (rate and connection limits).',
      differs:
        'ingress-nginx has one global `limit-req-status-code` / `limit-conn-status-code` in the ConfigMap (default 503).',
      prefixes: ['portico.dev'],
    },
    'limit-store': {
      validate: oneOf(['memory', 'redis']),
      scope: 'location',
      risk: 'low',
      default: '`redis` with `--redis-url`, else `memory`',
      doc: '`memory`: each Portico replica counts alone; `redis`: one count shared by every replica. Also applies to `nginx.ingress.kubernetes.io/limit-*` limits.',
      differs: 'Portico only; ingress-nginx counts per replica (nginx shared memory).',
      prefixes: ['portico.dev'],
    },
    'limit-dry-run': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: count and log would-be refusals (metric per Ingress), refuse nothing. Also applies to `nginx.ingress.kubernetes.io/limit-*` limits.',
      differs: 'Portico only (nginx has `limit_req_dry_run`, which ingress-nginx does not expose).',
      prefixes: ['portico.dev'],
    },
    'rate-limit-policy': {
      validate: policyName,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: "A `RateLimitPolicy` (portico.dev/v1alpha1) in the Ingress's namespace supplies the limit; `limit-*` annotations of the Ingress are then ignored (with a warning). A missing policy: a warning and no limit. A policy that fails validation: the Ingress keeps the policy's last good version (none if it never had one), with a warning.",
      differs: 'Portico only.',
      prefixes: ['portico.dev'],
    },
  },
);

export const nginxRateLimitAnnotations = defineAnnotations(
  'rate-limit-nginx',
  "ingress-nginx's rate limits, with ingress-nginx's semantics so a migrated Ingress behaves as before: one zone per Ingress keyed by client address; `limit_req burst=R×M nodelay` is a bucket of capacity R×M + 1 refilled at R per second (`limit-rps: 1` admits 6 of 20 back-to-back requests); refused requests get the ConfigMap's `limit-req-status-code` / `limit-conn-status-code` (default 503). `portico.dev/limit-store` and `portico.dev/limit-dry-run` apply to these limits too.",
  {
    'limit-rps': {
      validate: integer(0, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '0 (no limit)',
      doc: 'Requests per second per client address, with a burst of `limit-rps × limit-burst-multiplier`.',
      differs:
        'A value that is not a whole number rejects the Ingress (ingress-nginx reads it as 0: no limit).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'limit-rpm': {
      validate: integer(0, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '0 (no limit)',
      doc: 'Requests per minute per client address, with a burst of `limit-rpm × limit-burst-multiplier` (capacity R×M + 1, refill R/60 per second).',
      differs: 'A value that is not a whole number rejects the Ingress (ingress-nginx: no limit).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'limit-burst-multiplier': {
      validate: integer(1, MAX_BURST_MULTIPLIER),
      scope: 'location',
      risk: 'low',
      default: '5',
      doc: 'Burst size as a multiple of `limit-rps` / `limit-rpm`.',
      differs:
        'A value that is not a whole number from 1 rejects the Ingress (ingress-nginx falls back to 5).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'limit-connections': {
      validate: integer(0, MAX_RATE),
      scope: 'location',
      risk: 'low',
      default: '0 (no limit)',
      doc: 'Concurrent requests per client address (`limit_conn`).',
      differs: 'A value that is not a whole number rejects the Ingress (ingress-nginx: no limit).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'limit-allowlist': {
      validate: cidrSet,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Client addresses and CIDRs exempt from these limits.',
      aliases: ['limit-whitelist'],
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
  },
);

/** `PorticoLimitValues` are the portico-dialect settings, from annotations or a RateLimitPolicy spec. */
export interface PorticoLimitValues {
  readonly rps?: number;
  readonly rpm?: number;
  readonly burst?: number;
  readonly connections?: number;
  readonly key?: RateLimitKey;
  readonly scope?: 'ingress' | 'path';
  readonly allowlist?: readonly string[];
  readonly status?: number;
  readonly store?: 'memory' | 'redis';
  readonly dryRun?: boolean;
}

/** `porticoBuckets` sizes the portico dialect: capacity = one window's worth + burst. */
export function porticoBuckets(rps?: number, rpm?: number, burst = 0): RateLimitBucket[] {
  const plus = burst > 0 ? ` + burst ${burst}` : '';
  const buckets: RateLimitBucket[] = [];
  if (rps !== undefined)
    buckets.push({ capacity: rps + burst, ratePerSecond: rps, label: `${rps} rps${plus}` });
  if (rpm !== undefined) {
    buckets.push({ capacity: rpm + burst, ratePerSecond: rpm / 60, label: `${rpm} rpm${plus}` });
  }
  return buckets;
}

/** `nginxBuckets` sizes the nginx dialect: `limit_req burst=R×M nodelay` is capacity R×M + 1. */
export function nginxBuckets(rps: number, rpm: number, multiplier: number): RateLimitBucket[] {
  const buckets: RateLimitBucket[] = [];
  if (rps > 0) {
    buckets.push({
      capacity: rps * multiplier + 1,
      ratePerSecond: rps,
      label: `limit-rps ${rps} (nginx burst=${rps * multiplier} nodelay)`,
    });
  }
  if (rpm > 0) {
    buckets.push({
      capacity: rpm * multiplier + 1,
      ratePerSecond: rpm / 60,
      label: `limit-rpm ${rpm} (nginx burst=${rpm * multiplier} nodelay)`,
    });
  }
  return buckets;
}

/**
 * `porticoConfig` builds a portico-dialect limit, or says why the values do not make one (the
 * message is shared by annotations and RateLimitPolicy, which name their own fields).
 */
export function porticoConfig(
  values: PorticoLimitValues,
  policy?: string,
): { readonly config: RateLimitConfig } | { readonly problem: 'no-limit' | 'burst-without-rate' } {
  if (values.rps === undefined && values.rpm === undefined && values.connections === undefined) {
    return { problem: 'no-limit' };
  }
  if (values.burst !== undefined && values.rps === undefined && values.rpm === undefined) {
    return { problem: 'burst-without-rate' };
  }
  const config: RateLimitConfig = {
    dialect: 'portico',
    buckets: porticoBuckets(values.rps, values.rpm, values.burst ?? 0),
    ...(values.connections !== undefined ? { connections: values.connections } : {}),
    key: values.key ?? { kind: 'remote-ip' },
    scope: values.scope ?? 'ingress',
    ...(values.allowlist !== undefined ? { allowlist: values.allowlist } : {}),
    status: values.status ?? DEFAULT_LIMIT_STATUS,
    ...(values.store !== undefined ? { store: values.store } : {}),
    dryRun: values.dryRun ?? false,
    ...(policy !== undefined ? { policy } : {}),
  };
  return { config: deepFreeze(config) };
}

/** `RateLimitPolicyRef` is a `portico.dev/rate-limit-policy` reference, resolved by translation. */
export interface RateLimitPolicyRef {
  readonly namespace: string;
  readonly name: string;
  /** Diagnostic field of the annotation. */
  readonly field: string;
}

/** `RateLimitAnnotations` is the family's outcome: a limit from annotations, or a policy to look up. */
export interface RateLimitAnnotations {
  readonly config?: RateLimitConfig;
  readonly policy?: RateLimitPolicyRef;
}

const PORTICO_LIMITS = ['limit-rps', 'limit-rpm', 'limit-connections'] as const;
const PORTICO_MODIFIERS = [
  'limit-burst',
  'limit-key',
  'limit-scope',
  'limit-allowlist',
  'limit-status-code',
] as const;
const NGINX_KEYS = [
  'limit-rps',
  'limit-rpm',
  'limit-burst-multiplier',
  'limit-connections',
  'limit-allowlist',
] as const;

/**
 * `readRateLimit` reads both tables and the policy reference. Precedence: `rate-limit-policy`, then
 * `portico.dev/` limits, then `nginx.ingress.kubernetes.io/` limits; every value set but not used
 * gets a warning naming it. Invalid values and combinations that would silently do nothing (a
 * `portico.dev/limit-burst` without a portico rate) are problems: the Ingress is rejected.
 */
export function readRateLimit(reader: AnnotationReader): RateLimitAnnotations {
  const p = {
    'limit-rps': reader.read(rateLimitAnnotations, 'limit-rps'),
    'limit-rpm': reader.read(rateLimitAnnotations, 'limit-rpm'),
    'limit-connections': reader.read(rateLimitAnnotations, 'limit-connections'),
    'limit-burst': reader.read(rateLimitAnnotations, 'limit-burst'),
    'limit-key': reader.read(rateLimitAnnotations, 'limit-key'),
    'limit-scope': reader.read(rateLimitAnnotations, 'limit-scope'),
    'limit-allowlist': reader.read(rateLimitAnnotations, 'limit-allowlist'),
    'limit-status-code': reader.read(rateLimitAnnotations, 'limit-status-code'),
  };
  const store = reader.read(rateLimitAnnotations, 'limit-store');
  const dryRun = reader.read(rateLimitAnnotations, 'limit-dry-run');
  const policy = reader.read(rateLimitAnnotations, 'rate-limit-policy');
  const n = {
    'limit-rps': reader.read(nginxRateLimitAnnotations, 'limit-rps'),
    'limit-rpm': reader.read(nginxRateLimitAnnotations, 'limit-rpm'),
    'limit-burst-multiplier': reader.read(nginxRateLimitAnnotations, 'limit-burst-multiplier'),
    'limit-connections': reader.read(nginxRateLimitAnnotations, 'limit-connections'),
    'limit-allowlist': reader.read(nginxRateLimitAnnotations, 'limit-allowlist'),
  };
  const set = (values: Record<string, FieldValue<unknown> | undefined>): FieldValue<unknown>[] =>
    Object.values(values).filter((v): v is FieldValue<unknown> => v !== undefined);

  if (policy !== undefined) {
    for (const ignored of [...set(p), ...set({ store, dryRun }), ...set(n)]) {
      reader.warning(
        ignored.field,
        `${ignored.key} is ignored: ${policy.key} names RateLimitPolicy ${reader.namespace}/${policy.value}, which wins over limit annotations`,
      );
    }
    return { policy: { namespace: reader.namespace, name: policy.value, field: policy.field } };
  }

  const porticoLimit = PORTICO_LIMITS.some((k) => p[k] !== undefined);
  if (porticoLimit) {
    for (const k of NGINX_KEYS) {
      const ignored = n[k];
      if (ignored === undefined) continue;
      const same = (p as Record<string, FieldValue<unknown> | undefined>)[k];
      reader.warning(
        ignored.field,
        same !== undefined
          ? `${ignored.key} is ignored: ${same.key} is set too and wins`
          : `${ignored.key} is ignored: portico.dev/ limit annotations are set and win (the two spellings count differently and are not mixed)`,
      );
    }
    const built = porticoConfig({
      ...(p['limit-rps'] !== undefined ? { rps: p['limit-rps'].value } : {}),
      ...(p['limit-rpm'] !== undefined ? { rpm: p['limit-rpm'].value } : {}),
      ...(p['limit-burst'] !== undefined ? { burst: p['limit-burst'].value } : {}),
      ...(p['limit-connections'] !== undefined ? { connections: p['limit-connections'].value } : {}),
      ...(p['limit-key'] !== undefined ? { key: p['limit-key'].value } : {}),
      ...(p['limit-scope'] !== undefined ? { scope: p['limit-scope'].value } : {}),
      ...(p['limit-allowlist'] !== undefined ? { allowlist: p['limit-allowlist'].value } : {}),
      ...(p['limit-status-code'] !== undefined ? { status: p['limit-status-code'].value } : {}),
      ...(store !== undefined ? { store: store.value } : {}),
      ...(dryRun !== undefined ? { dryRun: dryRun.value } : {}),
    });
    if ('config' in built) return { config: built.config };
    // Only `burst-without-rate` is possible here: a portico limit is set.
    reader.problem(
      p['limit-burst']!.field,
      'needs portico.dev/limit-rps or portico.dev/limit-rpm (a burst is extra requests on top of a rate)',
    );
    return {};
  }

  for (const k of PORTICO_MODIFIERS) {
    const orphan = p[k];
    if (orphan === undefined) continue;
    reader.problem(
      orphan.field,
      'needs portico.dev/limit-rps, portico.dev/limit-rpm or portico.dev/limit-connections (it only applies to portico.dev/ limits)',
    );
  }

  const rps = n['limit-rps']?.value ?? 0;
  const rpm = n['limit-rpm']?.value ?? 0;
  const connections = n['limit-connections']?.value ?? 0;
  if (rps === 0 && rpm === 0 && connections === 0) {
    // ingress-nginx reads 0 as "no limit" and ignores the rest; so does Portico, but says so.
    for (const idle of [n['limit-burst-multiplier'], n['limit-allowlist'], store, dryRun]) {
      if (idle === undefined) continue;
      reader.warning(
        idle.field,
        `${idle.key} has no effect: no rate or connection limit is set (limit-rps, limit-rpm or limit-connections)`,
      );
    }
    return {};
  }
  const multiplier = n['limit-burst-multiplier']?.value ?? DEFAULT_BURST_MULTIPLIER;
  const allowlist = n['limit-allowlist']?.value;
  const config: RateLimitConfig = {
    dialect: 'nginx',
    buckets: nginxBuckets(rps, rpm, multiplier),
    ...(connections > 0 ? { connections } : {}),
    key: { kind: 'remote-ip' },
    scope: 'ingress',
    ...(allowlist !== undefined ? { allowlist } : {}),
    ...(store !== undefined ? { store: store.value } : {}),
    dryRun: dryRun?.value ?? false,
  };
  return { config: deepFreeze(config) };
}

/** `parseRateLimit` is the limit the annotations set on their own (undefined with a policy reference). */
export function parseRateLimit(reader: AnnotationReader): RateLimitConfig | undefined {
  return readRateLimit(reader).config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
