/**
 * `validators` parse ConfigMap values the way ingress-nginx users write them. Each returns the
 * typed value or the reason it is refused; none throws (DESIGN §5: pure layers report bad input).
 */
import ipaddr from 'ipaddr.js';

/** `Parsed` is a validator's outcome. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** `Validator` parses one raw ConfigMap value. */
export type Validator<T> = (raw: string) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

// nginx's time units (ngx_parse_time); months and years are left out: nobody means them here.
const TIME_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
// setTimeout overflows past 2^31-1 ms and fires at once.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * `nginxDuration` reads a time as ingress-nginx ConfigMaps hold it: bare seconds (`"60"`, what
 * ingress-nginx documents) or nginx time syntax (`"60s"`, `"1m"`, `"1m30s"`, `"500ms"`), into
 * milliseconds. `min` is inclusive, in milliseconds.
 */
export function nginxDuration(min = 1): Validator<number> {
  return (raw) => {
    const v = raw.trim();
    let ms: number;
    if (/^\d+$/.test(v)) ms = Number(v) * 1_000;
    else if (/^(\d+(ms|s|m|h|d) *)+$/.test(v)) {
      ms = 0;
      for (const m of v.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * (TIME_UNITS[m[2] ?? ''] ?? 0);
    } else return fail('must be seconds ("60") or an nginx time ("60s", "1m", "500ms")');
    if (!Number.isSafeInteger(ms) || ms > MAX_TIMER_MS) return fail('too large (at most about 24 days)');
    if (ms < min) return fail(min === 1 ? 'must be greater than 0' : `must be at least ${min} ms`);
    return ok(ms);
  };
}

/** `integer` reads a decimal integer within `[min, max]`. */
export function integer(min: number, max: number): Validator<number> {
  return (raw) => {
    const v = raw.trim();
    if (!/^\d+$/.test(v)) return fail('must be a whole number');
    const n = Number(v);
    if (n < min || n > max) return fail(`must be between ${min} and ${max}`);
    return ok(n);
  };
}

// Go's strconv.ParseBool, which ingress-nginx's ConfigMap decoding uses.
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `boolean` reads a boolean as Go's `strconv.ParseBool` does (`"true"`, `"false"`, `"1"`, `"0"`, …). */
export const boolean: Validator<boolean> = (raw) => {
  const v = raw.trim();
  if (TRUE.has(v)) return ok(true);
  if (FALSE.has(v)) return ok(false);
  return fail('must be "true" or "false"');
};

/** `isAddressOrCidr` says whether `item` is an IPv4/IPv6 address or CIDR (dotted-quad IPv4 only). */
export function isAddressOrCidr(item: string): boolean {
  const slash = item.indexOf('/');
  const addr = slash === -1 ? item : item.slice(0, slash);
  const prefix = slash === -1 ? undefined : item.slice(slash + 1);
  let max: number;
  if (ipaddr.IPv4.isValidFourPartDecimal(addr)) max = 32;
  else if (!addr.includes('%') && ipaddr.IPv6.isValid(addr)) max = 128;
  else return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max);
}

/** `cidrList` reads a comma-separated list of CIDRs or addresses (ingress-nginx `[]string`), at least one. */
export const cidrList: Validator<readonly string[]> = (raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return fail('must list at least one CIDR or address');
  for (const item of items) {
    if (!isAddressOrCidr(item)) return fail(`${JSON.stringify(item)} is not an IP address or CIDR`);
  }
  return ok([...new Set(items)]);
};
