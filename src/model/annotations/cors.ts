/**
 * `cors` is Cross-Origin Resource Sharing (ingress-nginx's `cors` package). Location scoped. The
 * request-time half is `proxy/cors.ts`: preflights are answered by Portico before the policy
 * chain (IP lists, limits, authentication), and actual responses carry the `Access-Control-*`
 * headers. Every value is validated here; none is an nginx variable.
 */
import type { Parsed } from '../settings/validators.js';
import type { CorsPolicy } from '../types.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described, integer } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/** ingress-nginx's defaults (`internal/ingress/annotations/cors/main.go`). */
export const CORS_DEFAULTS = Object.freeze({
  allowMethods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
  allowHeaders:
    'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  allowCredentials: true,
  maxAgeSeconds: 1_728_000,
});

// One origin: scheme, host (optionally `*.` for exactly one more label), optional port.
const ORIGIN =
  /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;

/**
 * `originList` reads `cors-allow-origin`: `*`, or comma-separated origins `scheme://host[:port]`
 * where the host may start with `*.` (one label, e.g. `https://*.example.com`). `*` anywhere in the
 * list means any origin, as in ingress-nginx; a blank value too. Origins are lowercased.
 */
export const originList: Described<readonly string[]> = described((raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0 || items.includes('*')) return ok(['*']);
  const bad = items.filter((item) => !ORIGIN.test(item) || portOf(item) > 65_535);
  if (bad.length > 0) {
    return fail(
      `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not an origin' : 'are not origins'}: write "*", "https://host[:port]" or "https://*.domain[:port]"`,
    );
  }
  return ok([...new Set(items.map((i) => i.toLowerCase()))]);
}, '`*`, or comma-separated origins `https://host[:port]`, wildcard subdomains `https://*.example.com`');

function portOf(origin: string): number {
  const m = /:(\d+)$/.exec(origin);
  return m === null ? 0 : Number(m[1]);
}

/**
 * `tokenList` reads a comma-separated list of header or method names (the characters ingress-nginx
 * allows, without its backtracking regex), rendered `a, b, c`. `star` also admits `*`.
 */
function tokenList(what: string, token: RegExp, star: boolean, expects: string): Described<string> {
  return described((raw) => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (items.length === 0) return fail(`must list at least one ${what}`);
    const bad = items.filter((i) => !(token.test(i) || (star && i === '*')));
    if (bad.length > 0) {
      return fail(
        `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not ${what === 'method' ? 'a method name' : 'a header name'} (letters${what === 'method' ? '' : ', digits, "-" and "_"'} only)`,
      );
    }
    return ok(items.join(', '));
  }, expects);
}

const METHOD = /^[A-Za-z]+$/;
const HEADER = /^[A-Za-z0-9_-]+$/;

export const corsAnnotations = defineAnnotations(
  'cors',
  "Cross-Origin Resource Sharing. A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed origin is answered by Portico with 204 before IP lists, rate limits and authentication, and never reaches the backend; other responses (the backend's and Portico's own error answers) carry `Access-Control-Allow-Origin`, `-Allow-Credentials` and `-Expose-Headers`, replacing any the backend sent.",
  {
    'enable-cors': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"` turns CORS on for this Ingress\'s routes; the other `cors-*` annotations only apply with it (set without it, they are reported as ignored).',
      differs:
        'Portico answers a preflight only when it is one (`OPTIONS` with `Origin` and `Access-Control-Request-Method`); other `OPTIONS` requests go to the backend, where ingress-nginx answered every `OPTIONS` from an allowed origin with 204. A preflight from an origin not allowed goes on to the policies and the backend, as in ingress-nginx. On plain HTTP the HTTPS redirect comes first (ingress-nginx answered the preflight before redirecting).',
    },
    'cors-allow-origin': {
      validate: originList,
      scope: 'location',
      risk: 'low',
      default: '*',
      doc: 'Allowed origins. With `*`, responses carry `Access-Control-Allow-Origin: *`; with a list, a request whose `Origin` matches one (case-insensitively, the port included) gets its own origin back, with `Vary: Origin`, and a request from another origin gets no CORS headers.',
      differs:
        "Origins match whole: ingress-nginx's regex is anchored only at the end, so an origin merely ending with an allowed one matched there. `*.` stands for exactly one label, as in ingress-nginx. An invalid item rejects the Ingress instead of being skipped (a list of only invalid items allowed every origin in ingress-nginx). Portico adds `Vary: Origin` when the answer depends on the origin.",
    },
    'cors-allow-methods': {
      validate: tokenList('method', METHOD, false, 'comma-separated method names'),
      scope: 'location',
      risk: 'low',
      default: CORS_DEFAULTS.allowMethods,
      doc: 'Value of `Access-Control-Allow-Methods` on preflight answers.',
      differs:
        'An invalid value rejects the Ingress (ingress-nginx silently uses the default); items are written `a, b`.',
    },
    'cors-allow-headers': {
      validate: tokenList('header', HEADER, false, 'comma-separated header names'),
      scope: 'location',
      risk: 'low',
      default: CORS_DEFAULTS.allowHeaders,
      doc: 'Value of `Access-Control-Allow-Headers` on preflight answers.',
      differs:
        'An invalid value rejects the Ingress (ingress-nginx silently uses the default); items are written `a, b`.',
    },
    'cors-expose-headers': {
      validate: tokenList('header', HEADER, true, 'comma-separated header names or `*`'),
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: 'Value of `Access-Control-Expose-Headers` on every answer (preflights included).',
      differs: 'An invalid value rejects the Ingress (ingress-nginx silently drops it).',
    },
    'cors-allow-credentials': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'true',
      doc: '`"true"`: answers carry `Access-Control-Allow-Credentials: true`. Browsers refuse credentialed requests when the allowed origin is `*`: list the origins to allow them.',
    },
    'cors-max-age': {
      validate: integer(0, 2_147_483_647),
      scope: 'location',
      risk: 'low',
      default: String(CORS_DEFAULTS.maxAgeSeconds),
      doc: 'Value of `Access-Control-Max-Age` (seconds) on preflight answers.',
    },
  },
);

/** `parseCors` returns the policy when `enable-cors` is true, else undefined (the others are then unused). */
export function parseCors(reader: AnnotationReader): CorsPolicy | undefined {
  const enabled = reader.read(corsAnnotations, 'enable-cors');
  const origins = reader.read(corsAnnotations, 'cors-allow-origin');
  const methods = reader.read(corsAnnotations, 'cors-allow-methods');
  const headers = reader.read(corsAnnotations, 'cors-allow-headers');
  const expose = reader.read(corsAnnotations, 'cors-expose-headers');
  const credentials = reader.read(corsAnnotations, 'cors-allow-credentials');
  const maxAge = reader.read(corsAnnotations, 'cors-max-age');
  if (enabled?.value !== true) {
    for (const set of [origins, methods, headers, expose, credentials, maxAge]) {
      if (set !== undefined) reader.warning(set.field, `${set.key} is ignored: enable-cors is not "true"`);
    }
    return undefined;
  }
  return Object.freeze({
    allowOrigins: Object.freeze(origins?.value ?? ['*']),
    allowMethods: methods?.value ?? CORS_DEFAULTS.allowMethods,
    allowHeaders: headers?.value ?? CORS_DEFAULTS.allowHeaders,
    ...(expose !== undefined ? { exposeHeaders: expose.value } : {}),
    allowCredentials: credentials?.value ?? CORS_DEFAULTS.allowCredentials,
    maxAgeSeconds: maxAge?.value ?? CORS_DEFAULTS.maxAgeSeconds,
  });
}
