/**
 * `rate-limit-policy` validates Portico's RateLimitPolicy objects (portico.dev/v1alpha1) and keeps,
 * per policy, the version in force: the current one when it validates, else the last one that did.
 * Pure: the caller (the controller) holds the last good versions between runs, as it does for the
 * ConfigMap's settings. Fields mean what the `portico.dev/limit-*` annotations mean and are checked
 * by the same validators, so a value refused in one place is refused in the other.
 */
import type { StoredObject } from '../store/object-store.js';
import { cidrSet } from './annotations/ip-filter.js';
import {
  MAX_RATE,
  type PorticoLimitValues,
  policyName,
  porticoConfig,
  rateLimitKey,
} from './annotations/rate-limit.js';
import type { Validator } from './annotations/spec.js';
import { oneOf } from './annotations/validators.js';
import type { Diagnostic } from './diagnostics.js';
import type { RateLimitPolicy } from './objects.js';
import { diagnosticsFor } from './translate/locate.js';
import type { RateLimitConfig } from './types.js';

/** `PolicyProblem` is one invalid field of a policy. */
export interface PolicyProblem {
  readonly field: string;
  readonly message: string;
}

/** `PolicyValidation` is a policy's config, or every problem that keeps it from having one. */
export type PolicyValidation =
  | { readonly ok: true; readonly config: RateLimitConfig }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

/** `RATE_LIMIT_POLICY_FIELDS` are the `spec` fields, as the CRD's schema lists them. */
export const RATE_LIMIT_POLICY_FIELDS: readonly string[] = [
  'rps',
  'rpm',
  'burst',
  'connections',
  'key',
  'scope',
  'allowlist',
  'statusCode',
  'store',
  'dryRun',
];
const SPEC_FIELDS = new Set(RATE_LIMIT_POLICY_FIELDS);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `validateRateLimitPolicy` checks one policy (its name too: file mode accepts any name) and builds
 * its `RateLimitConfig`, with `policy: "namespace/name"`. Never throws for bad input.
 */
export function validateRateLimitPolicy(policy: RateLimitPolicy): PolicyValidation {
  const problems: PolicyProblem[] = [];
  const meta: Partial<RateLimitPolicy['metadata']> | undefined = (policy as Partial<RateLimitPolicy> | null)
    ?.metadata;
  const namespace = meta?.namespace ?? 'default';
  const name = String(meta?.name ?? '');
  const named = policyName(name);
  if (!named.ok) problems.push({ field: 'metadata.name', message: named.reason });
  const spec: unknown = policy?.spec;
  if (!isRecord(spec)) {
    problems.push({ field: 'spec', message: 'is required: an object with rps, rpm or connections' });
    return { ok: false, problems };
  }
  const bad = (field: string, message: string): undefined => {
    problems.push({ field: `spec.${field}`, message });
    return undefined;
  };
  const int = (field: string, min: number): number | undefined => {
    const v = spec[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v))
      return bad(field, `${JSON.stringify(v)}: must be an integer`);
    if (v < min || v > MAX_RATE) return bad(field, `${v}: must be between ${min} and ${MAX_RATE}`);
    return v;
  };
  const text = <T>(field: string, validate: Validator<T>): T | undefined => {
    const v = spec[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return bad(field, `${JSON.stringify(v)}: must be a string`);
    const parsed = validate(v);
    if (!parsed.ok) return bad(field, `${JSON.stringify(v)}: ${parsed.reason}`);
    return parsed.value;
  };
  const rps = int('rps', 1);
  const rpm = int('rpm', 1);
  const burst = int('burst', 0);
  const connections = int('connections', 1);
  const key = text('key', rateLimitKey);
  const scope = text('scope', oneOf(['ingress', 'path']));
  const store = text('store', oneOf(['memory', 'redis']));
  let status: number | undefined;
  const rawStatus = spec['statusCode'];
  if (rawStatus !== undefined && rawStatus !== null) {
    if (typeof rawStatus !== 'number' || !Number.isInteger(rawStatus))
      bad('statusCode', `${JSON.stringify(rawStatus)}: must be an integer`);
    else if (rawStatus < 400 || rawStatus > 599)
      bad('statusCode', `${rawStatus}: must be between 400 and 599`);
    else status = rawStatus;
  }
  let dryRun: boolean | undefined;
  const rawDryRun = spec['dryRun'];
  if (rawDryRun !== undefined && rawDryRun !== null) {
    if (typeof rawDryRun !== 'boolean') bad('dryRun', `${JSON.stringify(rawDryRun)}: must be true or false`);
    else dryRun = rawDryRun;
  }
  let allowlist: string[] | undefined;
  const rawAllow = spec['allowlist'];
  if (rawAllow !== undefined && rawAllow !== null) {
    if (!Array.isArray(rawAllow)) bad('allowlist', 'must be a list of IP addresses and CIDRs');
    else {
      const out = new Set<string>();
      rawAllow.forEach((item: unknown, i) => {
        // One item at a time, so a comma cannot sneak two entries into one.
        const parsed = typeof item === 'string' && !item.includes(',') ? cidrSet(item) : undefined;
        if (parsed?.ok !== true)
          bad(`allowlist[${i}]`, `${JSON.stringify(item)} is not an IP address or CIDR`);
        else for (const cidr of parsed.value) out.add(cidr);
      });
      allowlist = [...out];
    }
  }
  for (const field of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(field)) bad(field, 'unknown field');
  }
  if (problems.length > 0) return { ok: false, problems };
  const values: PorticoLimitValues = {
    ...(rps !== undefined ? { rps } : {}),
    ...(rpm !== undefined ? { rpm } : {}),
    ...(burst !== undefined ? { burst } : {}),
    ...(connections !== undefined ? { connections } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(allowlist !== undefined ? { allowlist } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(store !== undefined ? { store } : {}),
    ...(dryRun !== undefined ? { dryRun } : {}),
  };
  const built = porticoConfig(values, `${namespace}/${name}`);
  if ('config' in built) return { ok: true, config: built.config };
  return {
    ok: false,
    problems: [
      built.problem === 'no-limit'
        ? { field: 'spec', message: 'sets no limit: needs rps, rpm or connections' }
        : { field: 'spec.burst', message: 'needs rps or rpm (a burst is extra requests on top of a rate)' },
    ],
  };
}

/** `RateLimitPolicyState` is one policy as translation sees it. */
export interface RateLimitPolicyState {
  /** `"namespace/name"`. */
  readonly key: string;
  /** The config in force: the current version's, or the last good one's when the current is rejected. */
  readonly config?: RateLimitConfig;
  /** Set when the current version is rejected: its problems, in one line. */
  readonly rejected?: string;
}

/** `LastGoodPolicies` maps `"namespace/name"` to the config of the policy's last valid version. */
export type LastGoodPolicies = ReadonlyMap<string, RateLimitConfig>;

/** `ResolvedPolicies` is what `resolveRateLimitPolicies` returns. */
export interface ResolvedPolicies {
  readonly policies: ReadonlyMap<string, RateLimitPolicyState>;
  /** The last good configs to pass in next time (deleted policies are forgotten). */
  readonly good: LastGoodPolicies;
  /** One error per problem of each rejected policy, about the policy itself. */
  readonly diagnostics: readonly Diagnostic[];
}

/** `describeProblems` is the one-line form used in status messages and Ingress warnings. */
export function describeProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}

/**
 * `resolveRateLimitPolicies` validates every policy and picks the config in force for each. A policy
 * that disappears forgets its last good version, so deleting and re-creating one starts clean.
 */
export function resolveRateLimitPolicies(
  current: readonly StoredObject<RateLimitPolicy>[],
  previous: LastGoodPolicies = new Map(),
): ResolvedPolicies {
  const policies = new Map<string, RateLimitPolicyState>();
  const good = new Map<string, RateLimitConfig>();
  const diagnostics: Diagnostic[] = [];
  for (const stored of current) {
    const meta = stored.object.metadata;
    const key = `${meta.namespace ?? 'default'}/${meta.name}`;
    const result = validateRateLimitPolicy(stored.object);
    if (result.ok) {
      good.set(key, result.config);
      policies.set(key, { key, config: result.config });
      continue;
    }
    const make = diagnosticsFor(stored);
    for (const p of result.problems) {
      diagnostics.push(make('error', 'PORTICO_ERR_RATE_LIMIT_POLICY_INVALID', p.field, p.message));
    }
    const last = previous.get(key);
    if (last !== undefined) good.set(key, last);
    policies.set(key, {
      key,
      ...(last !== undefined ? { config: last } : {}),
      rejected: describeProblems(result.problems),
    });
  }
  return { policies, good, diagnostics };
}
