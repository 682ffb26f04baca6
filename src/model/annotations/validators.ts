/**
 * `validators` parse annotation values. The ConfigMap's validators (`settings/validators.ts`) are
 * reused where ingress-nginx parses both the same way (booleans with Go's `strconv.ParseBool`,
 * integers); the rest are annotation-specific. None throws (DESIGN §5).
 */
import {
  type Parsed,
  boolean as settingsBoolean,
  integer as settingsInteger,
  type Validator,
} from '../settings/validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * `Described` is a validator that says what it accepts, in Markdown, for docs/annotations.md: the
 * docs render the values from the same validator that parses them.
 */
export type Described<T> = Validator<T> & { readonly expects: string };

/** `described` attaches the accepted values to a validator. */
export function described<T>(validate: Validator<T>, expects: string): Described<T> {
  return Object.assign((raw: string) => validate(raw), { expects });
}

/** `expectsOf` is what a validator accepts, if it says. */
export function expectsOf(validate: Validator<unknown>): string | undefined {
  const expects: unknown = (validate as Partial<Described<unknown>>).expects;
  return typeof expects === 'string' ? expects : undefined;
}

/** `boolean` reads Go's `strconv.ParseBool` spellings, as ingress-nginx does. */
export const boolean: Described<boolean> = described(settingsBoolean, 'bool: `"true"`, `"false"`');

/** `integer` reads a decimal integer within `[min, max]`. */
export function integer(min: number, max: number): Described<number> {
  return described(settingsInteger(min, max), `int: ${min} to ${max}`);
}

/** `oneOf` accepts one of `values`; `ignoreCase` matches as ingress-nginx does for enums it upper-cases. */
export function oneOf<const T extends string>(
  values: readonly T[],
  options: { ignoreCase?: boolean; refused?: Readonly<Record<string, string>> } = {},
): Described<T> {
  const expects = `${values.map((x) => `\`${x}\``).join(', ')}${options.ignoreCase ? ' (any case)' : ''}`;
  return described((raw) => {
    const v = options.ignoreCase ? raw.trim().toUpperCase() : raw.trim();
    const hit = values.find((x) => (options.ignoreCase ? x.toUpperCase() : x) === v);
    if (hit !== undefined) return ok(hit);
    const refused = options.refused?.[v];
    if (refused !== undefined) return fail(refused);
    return fail(`must be one of ${values.map((x) => `"${x}"`).join(', ')}`);
  }, expects);
}

/** `onOff` reads nginx's `on`/`off` switches (ingress-nginx also takes `true`/`false` for some). */
export const onOff: Described<boolean> = described((raw) => {
  const v = raw.trim().toLowerCase();
  if (v === 'on' || v === 'true') return ok(true);
  if (v === 'off' || v === 'false') return ok(false);
  return fail('must be "on" or "off"');
}, '`"on"`, `"off"`');

// RFC 1123 DNS subdomain, what Kubernetes object names must be.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `SecretName` is a parsed Secret reference, before the namespace rule is applied. */
export interface SecretName {
  /** Absent when only a name was written (the Ingress's own namespace). */
  readonly namespace?: string;
  readonly name: string;
}

/** `secretName` reads `name` or `namespace/name` (ingress-nginx writes the latter). */
export const secretName: Described<SecretName> = described((raw) => {
  const v = raw.trim();
  const parts = v.split('/');
  if (parts.length > 2) return fail('must be "name" or "namespace/name"');
  const name = parts.length === 2 ? (parts[1] ?? '') : v;
  const namespace = parts.length === 2 ? parts[0] : undefined;
  if (namespace !== undefined && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    return fail(`namespace ${JSON.stringify(namespace)} is not a valid namespace name`);
  }
  if (name.length === 0 || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return fail(`${JSON.stringify(name)} is not a valid Secret name`);
  }
  return ok(namespace === undefined ? { name } : { namespace, name });
}, 'Secret: `name` or `namespace/name`');

/** `hostname` reads a DNS name (for `proxy-ssl-name`): lowercase labels, no port, no wildcard. */
export const hostname: Described<string> = described((raw) => {
  const v = raw.trim().toLowerCase();
  if (v.length === 0 || v.length > 253 || !DNS_SUBDOMAIN.test(v)) return fail('must be a DNS name');
  return ok(v);
}, 'DNS name');
