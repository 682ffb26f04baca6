/**
 * `affinity` is cookie session affinity on the data plane (ingress-nginx's `balancer/sticky*.lua`).
 * The cookie is `<key>|<backend tag>`: the tag says which backend (main or canary) the session
 * belongs to, the key which endpoint.
 * - `persistent`: the key is derived from the endpoint (a hash of backend and `address:port`), so
 *   it names that endpoint for as long as it is ready, whatever else changes; when it is gone the
 *   session moves to a random endpoint and the cookie is re-set.
 * - `balanced`: the key is random and placed by rendezvous hashing over the current endpoints, so
 *   when endpoints are added about 1/n of the sessions move to them (load is rebalanced), and a
 *   session moves off an endpoint only when that endpoint leaves or a new one outscores it.
 * Either way a snapshot or endpoint swap that keeps the pinned endpoint ready keeps the session.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AffinityPolicy } from '../model/types.js';
import { endpointHashes, fnv1a32, rendezvous } from './balancer.js';
import type { BackendUpstreams, Upstream } from './upstreams.js';

const DELIMITER = '|';

const tags = new Map<string, string>();

/** `backendTag` names a backend in cookies (ingress-nginx: md5 of the backend name), cached. */
export function backendTag(backendKey: string): string {
  let tag = tags.get(backendKey);
  if (tag === undefined) {
    tag = createHash('md5').update(`portico-affinity\u0000${backendKey}`).digest('hex');
    // Backend keys come from configuration; the cap only guards against unbounded churn.
    if (tags.size > 10_000) tags.clear();
    tags.set(backendKey, tag);
  }
  return tag;
}

/** `cookieValue` returns the value of cookie `name` in a Cookie header, without allocating a map. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length <= name.length) return undefined;
  let at = 0;
  while (at < header.length) {
    while (header.charCodeAt(at) === 0x20) at++;
    const end = header.indexOf(';', at);
    const stop = end === -1 ? header.length : end;
    if (header.startsWith(name, at) && header.charCodeAt(at + name.length) === 0x3d /* = */) {
      let value = header.slice(at + name.length + 1, stop).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    if (end === -1) break;
    at = end + 1;
  }
  return undefined;
}

/** `affinityTag` is the backend tag of an affinity cookie, or undefined when it has none. */
export function affinityTag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const bar = raw.indexOf(DELIMITER);
  return bar === -1 ? undefined : raw.slice(bar + 1);
}

interface PersistentIds {
  readonly ids: readonly string[];
  readonly byId: ReadonlyMap<string, number>;
}

const persistentCache = new WeakMap<BackendUpstreams, PersistentIds>();

/** `persistentIds` are the endpoints' cookie keys in `persistent` mode (cached per endpoint set). */
export function persistentIds(set: BackendUpstreams): PersistentIds {
  let cached = persistentCache.get(set);
  if (cached === undefined) {
    const ids = set.upstreams.map((u) =>
      createHash('sha1').update(`${set.backendKey}\u0000${u.key}`).digest('hex').slice(0, 20),
    );
    cached = { ids, byId: new Map(ids.map((id, i) => [id, i])) };
    persistentCache.set(set, cached);
  }
  return cached;
}

/** `sameSiteNoneCompatible` is ingress-nginx's `same_site_none_compatible` (util/same_site.lua). */
export function sameSiteNoneCompatible(userAgent: string): boolean {
  if (/Chrome\/[456]/.test(userAgent)) return false;
  if (userAgent.includes('CPU iPhone OS 12') || userAgent.includes('iPad; CPU OS 12')) return false;
  if (
    userAgent.includes('Macintosh') &&
    userAgent.includes('Intel Mac OS X 10_14') &&
    userAgent.includes('Safari') &&
    !userAgent.includes('Chrome')
  ) {
    return false;
  }
  return true;
}

/** `CookieContext` is what the Set-Cookie attributes depend on besides the policy. */
export interface CookieContext {
  /** The request came over HTTPS (the `Secure` default). */
  readonly https: boolean;
  readonly userAgent: string;
  /** The route's path, the `Path` default (ingress-nginx's `location_path`). */
  readonly routePath: string;
  /** The clock, for `Expires`. */
  readonly now: number;
}

/** `setCookieValue` renders the Set-Cookie value in resty.cookie's attribute order. */
export function setCookieValue(policy: AffinityPolicy, value: string, ctx: CookieContext): string {
  let out = `${policy.cookieName}=${value}`;
  if (policy.expiresSeconds !== undefined)
    out += `; Expires=${cookieTime(ctx.now + policy.expiresSeconds * 1000)}`;
  if (policy.maxAgeSeconds !== undefined) out += `; Max-Age=${policy.maxAgeSeconds}`;
  if (policy.domain !== undefined) out += `; Domain=${policy.domain}`;
  out += `; Path=${policy.path ?? ctx.routePath}`;
  // ingress-nginx drops a "false" on its way to Lua (omitempty), so HTTPS requests get Secure anyway.
  if (policy.secure === true || ctx.https) out += '; Secure';
  out += '; HttpOnly';
  let sameSite = policy.sameSite;
  if (sameSite === 'None' && policy.conditionalSameSiteNone && !sameSiteNoneCompatible(ctx.userAgent)) {
    sameSite = undefined;
  }
  if (sameSite !== undefined) out += `; SameSite=${sameSite}`;
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** `cookieTime` is nginx's `ngx_http_cookie_time`: `Thu, 01-Jan-26 00:00:00 GMT` (4-digit year after 2037). */
export function cookieTime(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${year > 2037 ? year : two(year % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

// ingress-nginx tries 20 random keys to find one off the failed endpoints; a key that lands on
// one chosen endpoint of n takes n tries on average, so this bounds the search well above that.
const MAX_KEY_TRIES = 256;

/**
 * `AffinitySession` places one request of a sticky backend and says which cookie its response
 * sets. `first` pins the endpoint; `setCookie` is asked with the endpoint that answered (a retry
 * may have moved on from a failed pin).
 */
export class AffinitySession {
  readonly #policy: AffinityPolicy;
  readonly #tag: string;
  readonly #cookie: string | undefined;
  readonly #ctx: CookieContext;
  readonly #random: () => number;
  #pinned = -1;
  /** The key the response must set for the pinned endpoint; undefined: the client's cookie stands. */
  #newKey: string | undefined;

  constructor(
    policy: AffinityPolicy,
    backendKey: string,
    cookie: string | undefined,
    ctx: CookieContext,
    random: () => number = Math.random,
  ) {
    this.#policy = policy;
    this.#tag = backendTag(backendKey);
    this.#cookie = cookie;
    this.#ctx = ctx;
    this.#random = random;
  }

  /** `first` is the index of the pinned endpoint in `set` (a new pin when the cookie names none). */
  first(set: BackendUpstreams): number {
    const key = this.#cookieKey();
    const count = set.upstreams.length;
    if (this.#policy.mode === 'persistent') {
      const ids = persistentIds(set);
      const pinned = key === undefined ? undefined : ids.byId.get(key);
      if (pinned !== undefined) return this.#pin(pinned, undefined);
      const chosen = Math.floor(this.#random() * count) % count;
      return this.#pin(chosen, ids.ids[chosen]);
    }
    const hashes = endpointHashes(set.upstreams);
    if (key !== undefined) return this.#pin(rendezvous(fnv1a32(key), hashes), undefined);
    const fresh = randomKey();
    return this.#pin(rendezvous(fnv1a32(fresh), hashes), fresh);
  }

  /**
   * `setCookie` is the Set-Cookie value for a response from `upstream`, or undefined. The pinned
   * endpoint answering sets the cookie only for a new session; another endpoint answering (the
   * pin failed) re-pins to it for a new session, or with `change-on-failure`.
   */
  setCookie(set: BackendUpstreams, upstream: Upstream): string | undefined {
    const index = set.upstreams.indexOf(upstream);
    if (index === -1) return undefined;
    if (index === this.#pinned) return this.#newKey === undefined ? undefined : this.#render(this.#newKey);
    if (this.#newKey === undefined && !this.#policy.changeOnFailure) return undefined;
    const key = this.#keyFor(set, index);
    return key === undefined ? undefined : this.#render(key);
  }

  /** `responseHeaders` is `Balancing.responseHeaders`: the Set-Cookie pair, if one is due. */
  responseHeaders(set: BackendUpstreams, upstream: Upstream): readonly string[] | undefined {
    const cookie = this.setCookie(set, upstream);
    return cookie === undefined ? undefined : ['set-cookie', cookie];
  }

  #pin(index: number, newKey: string | undefined): number {
    this.#pinned = index;
    this.#newKey = newKey;
    return index;
  }

  #cookieKey(): string | undefined {
    const raw = this.#cookie;
    if (raw === undefined) return undefined;
    const bar = raw.indexOf(DELIMITER);
    if (bar <= 0 || raw.slice(bar + 1) !== this.#tag) return undefined;
    return raw.slice(0, bar);
  }

  #keyFor(set: BackendUpstreams, index: number): string | undefined {
    if (this.#policy.mode === 'persistent') return persistentIds(set).ids[index];
    const hashes = endpointHashes(set.upstreams);
    for (let i = 0; i < MAX_KEY_TRIES; i++) {
      const key = randomKey();
      if (rendezvous(fnv1a32(key), hashes) === index) return key;
    }
    return undefined;
  }

  #render(key: string): string {
    return setCookieValue(this.#policy, `${key}${DELIMITER}${this.#tag}`, this.#ctx);
  }
}

function randomKey(): string {
  return randomBytes(10).toString('hex');
}
