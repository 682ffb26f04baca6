/**
 * `affinity` is cookie session affinity (ingress-nginx's `sessionaffinity` package and its
 * `balancer/sticky*.lua`): the first response sets a cookie naming the endpoint, later requests
 * carrying it go to that endpoint while it stays ready. The data plane half is `proxy/affinity.ts`.
 */
import type { AffinityPolicy } from '../types.js';
import { cookieName } from './canary.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described, integer, oneOf } from './validators.js';

const ok = <T>(value: T) => ({ ok: true as const, value });
const fail = (reason: string) => ({ ok: false as const, reason });

// Cookie attribute values end at ';' and must not carry control characters (RFC 6265 §4.1.1).
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const COOKIE_DOMAIN = /^\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const cookiePath: Described<string> = described((raw) => {
  const v = raw.trim();
  if (!COOKIE_PATH.test(v))
    return fail('must be a path starting with "/", without ";", spaces or control characters');
  return ok(v);
}, 'path starting with `/`');

const cookieDomain: Described<string> = described((raw) => {
  const v = raw.trim().toLowerCase();
  if (v.length > 253 || !COOKIE_DOMAIN.test(v))
    return fail('must be a domain name, e.g. "example.com" or ".example.com"');
  return ok(v);
}, 'domain name');

/** Seconds in a cookie lifetime: up to about 68 years, what a signed 32-bit count of seconds holds. */
const seconds = integer(0, 2_147_483_647);

export const DEFAULT_AFFINITY_COOKIE = 'INGRESSCOOKIE';

export const affinityAnnotations = defineAnnotations(
  'affinity',
  'Cookie session affinity: a client keeps reaching the endpoint that served it first, while that endpoint stays ready.',
  {
    affinity: {
      validate: oneOf(['cookie'] as const),
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: '`cookie`: pin each client to one endpoint with a cookie (`session-cookie-*`). Takes precedence over `load-balance` and `upstream-hash-by`.',
    },
    'affinity-mode': {
      validate: oneOf(['balanced', 'persistent'] as const),
      scope: 'location',
      risk: 'low',
      default: 'balanced',
      doc: '`balanced`: the cookie holds a random key hashed onto the endpoints, so when endpoints are added about 1/n of the sessions move to the new ones; `persistent`: the cookie names its endpoint, and a session moves only when that endpoint is no longer ready.',
      differs:
        'Balanced keys are placed by rendezvous hashing (ingress-nginx: resty.chash), so a session moves only to an added endpoint or off a removed one, never between two endpoints that both stay.',
    },
    'affinity-canary-behavior': {
      validate: oneOf(['sticky', 'legacy'] as const),
      scope: 'location',
      risk: 'low',
      default: 'sticky',
      doc: "On a canary Ingress. `sticky`: the canary uses the main Ingress's affinity settings, so a client the canary served keeps reaching the canary; `legacy`: the canary uses its own `affinity` settings (none: every request is decided again by header, cookie and weight).",
    },
    'session-cookie-name': {
      validate: cookieName,
      scope: 'location',
      risk: 'low',
      default: DEFAULT_AFFINITY_COOKIE,
      doc: 'Name of the affinity cookie.',
    },
    'session-cookie-path': {
      validate: cookiePath,
      scope: 'location',
      risk: 'low',
      default: "the route's path (`/` for regex paths)",
      doc: '`Path` attribute of the cookie.',
    },
    'session-cookie-domain': {
      validate: cookieDomain,
      scope: 'location',
      risk: 'low',
      default: '(none: the request host)',
      doc: '`Domain` attribute of the cookie.',
    },
    'session-cookie-max-age': {
      validate: seconds,
      scope: 'location',
      risk: 'low',
      default: '(none: a session cookie)',
      doc: '`Max-Age` attribute, in seconds.',
    },
    'session-cookie-expires': {
      validate: seconds,
      scope: 'location',
      risk: 'low',
      default: '(none: a session cookie)',
      doc: '`Expires` attribute: this many seconds after the response.',
    },
    'session-cookie-samesite': {
      validate: oneOf(['None', 'Lax', 'Strict'] as const, { ignoreCase: true }),
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: '`SameSite` attribute: `None`, `Lax` or `Strict`.',
      differs: 'Any case is accepted and written as `None`, `Lax`, `Strict`.',
    },
    'session-cookie-conditional-samesite-none': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: leave out `SameSite=None` for user agents known to reject it (Chrome 40–69, iOS 12, Safari on macOS 10.14), the list ingress-nginx uses.',
    },
    'session-cookie-secure': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'set on HTTPS requests',
      doc: '`"true"`: the `Secure` attribute on every response; otherwise only on requests that reached Portico over HTTPS (`"false"` does not remove it there, as in ingress-nginx).',
    },
    'session-cookie-change-on-failure': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: when the pinned endpoint fails and another one answers, the cookie is re-set to the one that answered.',
      differs:
        'A failed pinned endpoint is retried on the next endpoint in either case (ingress-nginx retries the same endpoint without it); `"false"` only keeps the cookie unchanged.',
    },
  },
);

/** `parseAffinity` returns the policy when `affinity: cookie` is set; companions alone are reported. */
export function parseAffinity(reader: AnnotationReader): AffinityPolicy | undefined {
  const kind = reader.read(affinityAnnotations, 'affinity');
  const mode = reader.read(affinityAnnotations, 'affinity-mode');
  const name = reader.read(affinityAnnotations, 'session-cookie-name');
  const path = reader.read(affinityAnnotations, 'session-cookie-path');
  const domain = reader.read(affinityAnnotations, 'session-cookie-domain');
  const maxAge = reader.read(affinityAnnotations, 'session-cookie-max-age');
  const expires = reader.read(affinityAnnotations, 'session-cookie-expires');
  const sameSite = reader.read(affinityAnnotations, 'session-cookie-samesite');
  const conditional = reader.read(affinityAnnotations, 'session-cookie-conditional-samesite-none');
  const secure = reader.read(affinityAnnotations, 'session-cookie-secure');
  const change = reader.read(affinityAnnotations, 'session-cookie-change-on-failure');
  const canary = reader.read(affinityAnnotations, 'affinity-canary-behavior');
  if (kind === undefined) {
    for (const c of [mode, name, path, domain, maxAge, expires, sameSite, conditional, secure, change]) {
      if (c !== undefined) reader.warning(c.field, `${c.key} is ignored without affinity: "cookie"`);
    }
    return undefined;
  }
  return {
    cookieName: name?.value ?? DEFAULT_AFFINITY_COOKIE,
    ...(path !== undefined ? { path: path.value } : {}),
    ...(domain !== undefined ? { domain: domain.value } : {}),
    ...(maxAge !== undefined ? { maxAgeSeconds: maxAge.value } : {}),
    ...(expires !== undefined ? { expiresSeconds: expires.value } : {}),
    ...(sameSite !== undefined ? { sameSite: sameSite.value } : {}),
    conditionalSameSiteNone: conditional?.value ?? false,
    ...(secure !== undefined ? { secure: secure.value } : {}),
    mode: mode?.value ?? 'balanced',
    changeOnFailure: change?.value ?? false,
    canaryBehavior: canary?.value ?? 'sticky',
  };
}

/** `parseCanaryBehavior` is `affinity-canary-behavior`, read with or without `affinity`. */
export function parseCanaryBehavior(reader: AnnotationReader): 'sticky' | 'legacy' {
  return reader.read(affinityAnnotations, 'affinity-canary-behavior')?.value ?? 'sticky';
}
