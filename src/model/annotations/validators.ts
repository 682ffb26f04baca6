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

/** `ObjectName` is a parsed reference to a namespaced object, before the namespace rule is applied. */
export interface ObjectName {
  /** Absent when only a name was written (the Ingress's own namespace). */
  readonly namespace?: string;
  readonly name: string;
}

/** `objectName` reads `name` or `namespace/name` (ingress-nginx writes the latter) for a `kind` of object. */
export function objectName(kind: string, note?: string): Described<ObjectName> {
  return described(
    (raw) => {
      const v = raw.trim();
      const parts = v.split('/');
      if (parts.length > 2) return fail('must be "name" or "namespace/name"');
      const name = parts.length === 2 ? (parts[1] ?? '') : v;
      const namespace = parts.length === 2 ? parts[0] : undefined;
      if (namespace !== undefined && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
        return fail(`namespace ${JSON.stringify(namespace)} is not a valid namespace name`);
      }
      if (name.length === 0 || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
        return fail(`${JSON.stringify(name)} is not a valid ${kind} name`);
      }
      return ok(namespace === undefined ? { name } : { namespace, name });
    },
    `${kind}: \`name\` or \`namespace/name\`${note === undefined ? '' : ` (${note})`}`,
  );
}

/** `SecretName` is a parsed Secret reference, before the namespace rule is applied. */
export type SecretName = ObjectName;

/** `secretName` reads `name` or `namespace/name` (ingress-nginx writes the latter). */
export const secretName: Described<SecretName> = objectName('Secret');

/** `hostname` reads a DNS name (for `proxy-ssl-name`): lowercase labels, no port, no wildcard. */
export const hostname: Described<string> = described((raw) => {
  const v = raw.trim().toLowerCase();
  if (v.length === 0 || v.length > 253 || !DNS_SUBDOMAIN.test(v)) return fail('must be a DNS name');
  return ok(v);
}, 'DNS name');

// RFC 3986 characters a URL may hold, `%` only as an escape; `$` is left out on purpose (below).
const URL_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;

/**
 * `redirectUrl` reads the target of `permanent-redirect` / `temporal-redirect`: an absolute
 * `http://` or `https://` URL with a host, sent as the Location exactly as written. ingress-nginx
 * checks the same (its URL parse and `http` scheme test). nginx variables (`$request_uri`) are
 * refused by name: Portico never expands them, and ingress-nginx's validation refuses `$` too.
 * An empty value reads as `''`: no redirect, as in ingress-nginx (the parser warns).
 */
export const redirectUrl: Described<string> = described((raw) => {
  const v = raw.trim();
  if (v === '') return ok('');
  if (v.includes('$')) {
    return fail('nginx variables such as $request_uri are not expanded; write the whole target URL');
  }
  if (!/^https?:\/\//i.test(v)) return fail('must be an absolute http:// or https:// URL');
  if (!URL_CHARS.test(v)) {
    const bad = [...v].find((ch) => !URL_CHARS.test(ch) && ch !== '%') ?? '%';
    return fail(`${JSON.stringify(bad)} is not allowed in a URL (percent-encode it)`);
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.hostname === '') return fail('must name a host');
  return ok(v);
}, 'absolute `http://` or `https://` URL');

/** `statusInteger` reads an HTTP status as Go's `strconv.Atoi` does; which codes apply is the parser's call. */
export const statusInteger: Described<number> = described((raw) => {
  const v = raw.trim();
  if (!/^[+-]?\d{1,9}$/.test(v)) return fail('must be an integer');
  return ok(Number(v));
}, 'int: `301`, `302`, `303`, `307`, `308`');

/**
 * `hostNameList` reads a comma-separated list of host names (`server-alias`): DNS names or
 * `*.`-wildcards, lowercased, duplicates and empty items dropped. nginx's regular-expression
 * server names (`~^…`) are refused by name.
 */
export const hostNameList: Described<readonly string[]> = described((raw) => {
  const out: string[] = [];
  for (const item of raw.split(',')) {
    const name = item.trim().toLowerCase();
    if (name === '') continue;
    if (name.startsWith('~')) {
      return fail(`${JSON.stringify(name)}: regular-expression server names are not supported`);
    }
    const problem = hostNameProblem(name);
    if (problem !== undefined) return fail(`${JSON.stringify(name)} ${problem}`);
    if (!out.includes(name)) out.push(name);
  }
  return ok(out);
}, 'comma-separated host names (`*.` wildcards allowed)');

const WILDCARD_NAME = /^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function hostNameProblem(name: string): string | undefined {
  if (/^[0-9.]+$/.test(name) || name.includes(':')) return 'is an IP address, not a host name';
  if (name.length > 253) return 'is longer than 253 characters';
  if (name.startsWith('*')) {
    return WILDCARD_NAME.test(name) ? undefined : 'is not a valid wildcard host name (e.g. "*.example.com")';
  }
  return DNS_SUBDOMAIN.test(name) ? undefined : 'is not a valid host name';
}
