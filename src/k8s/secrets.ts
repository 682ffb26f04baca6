/**
 * `secrets` keeps in memory only the Secrets Portico serves: those referenced by an Ingress it
 * serves (spec.tls[].secretName, in the Ingress's namespace; auth Secrets later) and
 * --default-ssl-certificate. A cluster's Secrets are mostly Helm releases, service-account tokens
 * and application credentials; holding them all would cost memory and widen what a heap dump
 * leaks. The Secret informers therefore remember only key → resourceVersion for the rest, and a
 * Secret that becomes referenced later is fetched with one GET.
 */
import type { Logger } from '../log/logger.js';
import { annotationSecretRefs } from '../model/annotations/registry.js';
import type { Ingress, Secret } from '../model/objects.js';
import type { ObjectStore } from '../store/object-store.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { objectKey } from '../util/keys.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type ObjectGetter, statusOf } from './client.js';
import { fromApiObject, type ObjectRef } from './convert.js';
import type { InformerHandler } from './informers.js';
import { type RefChange, ReferenceIndex } from './refs.js';

/**
 * `SECRET_FIELD_SELECTOR` keeps Helm release Secrets (often megabytes each, never referenced by an
 * Ingress) off the wire altogether, as ingress-nginx does.
 */
export const SECRET_FIELD_SELECTOR = 'type!=helm.sh/release.v1';

/** `DEFAULT_CERTIFICATE_REFERRER` is the pseudo-referrer pinning --default-ssl-certificate. */
export const DEFAULT_CERTIFICATE_REFERRER = '--default-ssl-certificate';

/**
 * `ingressSecretRefs` returns the `"namespace/name"` keys of the Secrets an Ingress references:
 * its `spec.tls` Secrets and the CA Secrets of its annotations (same namespace only).
 */
export function ingressSecretRefs(ingress: Ingress): string[] {
  const namespace = ingress.metadata.namespace;
  if (namespace === undefined) return [];
  const out = new Set<string>(annotationSecretRefs(ingress));
  const tls: unknown = ingress.spec?.tls;
  if (!Array.isArray(tls)) return [...out].sort();
  for (const entry of tls as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const name = (entry as { secretName?: unknown }).secretName;
    // Cross-namespace references are not a thing for Ingress TLS: the name is in the Ingress's
    // namespace, whatever it looks like.
    if (typeof name === 'string' && name !== '') out.add(objectKey(namespace, name));
  }
  return [...out].sort();
}

/** `SecretPresence` is what the keeper asks the Secret informers: does it exist, at which version? */
export interface SecretPresence {
  resourceVersionOf(namespace: string, name: string): string | undefined;
}

export interface SecretKeeperOptions {
  readonly store: ObjectStore;
  readonly getSecret: ObjectGetter;
  /** The Secret informer covering a namespace, if any (undefined: not watched, or not started). */
  readonly presence: (namespace: string) => SecretPresence | undefined;
  /** Called when a kept Secret was added, changed in content, or removed. */
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
}

/**
 * `SecretKeeper` decides which Secrets live in the store. It is the handler of every Secret
 * informer, and owns the reverse index Secret → referrers (`refs`).
 */
export class SecretKeeper {
  /** Secret key → referrers (Ingress keys, or `DEFAULT_CERTIFICATE_REFERRER`). */
  readonly refs = new ReferenceIndex();
  readonly #o: SecretKeeperOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #inflight = new Set<string>();
  readonly #retries = new Map<string, { readonly backoff: Backoff; timer?: TimerHandle }>();
  #fetches = 0;
  #stopped = false;

  constructor(options: SecretKeeperOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger.child({ component: 'secrets' });
  }

  /** `fetches` counts GETs issued (tests check that unreferenced Secrets cost none). */
  get fetches(): number {
    return this.#fetches;
  }

  /** `handler` is the `InformerHandler` for Secret informers. */
  readonly handler: InformerHandler = {
    upsert: (ref: ObjectRef, value: unknown) => this.#upsert(ref, value),
    remove: (namespace: string | undefined, name: string) => {
      if (namespace !== undefined) this.#drop(namespace, name);
    },
  };

  /**
   * `setReferences` records what `referrer` references now. A Secret that gains its first referrer
   * is fetched (if it exists and is not held yet); one that loses its last is dropped from memory.
   */
  setReferences(referrer: string, secretKeys: Iterable<string>): RefChange {
    const change = this.refs.set(referrer, secretKeys);
    this.#apply(change);
    return change;
  }

  /** `stop` cancels pending fetches and retries. */
  stop(): void {
    this.#stopped = true;
    for (const r of this.#retries.values()) if (r.timer) this.#clock.clearTimeout(r.timer);
    this.#retries.clear();
  }

  #apply(change: RefChange): void {
    for (const key of change.removed) {
      this.#cancelRetry(key);
      const [namespace, name] = splitKey(key);
      this.#drop(namespace, name);
    }
    for (const key of change.added) this.#fetch(key);
  }

  #upsert(ref: ObjectRef, value: unknown): void {
    const namespace = ref.namespace;
    if (namespace === undefined) return;
    const key = objectKey(namespace, ref.name);
    if (!this.refs.isReferenced(key)) {
      // Not ours to hold; only the informer's key → resourceVersion entry remembers it.
      this.#drop(namespace, ref.name);
      return;
    }
    this.#cancelRetry(key);
    this.#store(value);
  }

  #store(value: unknown): void {
    const converted = fromApiObject('Secret', value);
    if (!converted.ok) {
      this.#log.warn({ field: converted.field, reason: converted.message }, 'cannot read a Secret');
      return;
    }
    const secret = converted.object as Secret;
    const previous = this.#o.store.get('Secret', secret.metadata.namespace, secret.metadata.name)?.object;
    if (!this.#o.store.upsert(secret)) return;
    // A new resourceVersion with the same type and data (a label edit) changes nothing served.
    if (previous === undefined || !sameContent(previous, secret)) this.#o.onChange();
  }

  #drop(namespace: string, name: string): void {
    if (this.#o.store.remove('Secret', namespace, name)) this.#o.onChange();
  }

  #fetch(key: string): void {
    if (this.#stopped || this.#inflight.has(key)) return;
    const [namespace, name] = splitKey(key);
    if (this.#o.store.get('Secret', namespace, name) !== undefined) return;
    const presence = this.#o.presence(namespace);
    // Unknown to the informer: it does not exist (or is not listed yet); when it appears, the
    // watch delivers it whole and `#upsert` keeps it.
    const before = presence?.resourceVersionOf(namespace, name);
    if (presence === undefined || before === undefined) return;
    this.#inflight.add(key);
    this.#fetches++;
    this.#o.getSecret(namespace, name).then(
      (value) => {
        this.#inflight.delete(key);
        if (this.#stopped || !this.refs.isReferenced(key)) return;
        // A watch event since the GET started was already handled by `#upsert` with data at
        // least as new as ours; installing the GET's copy now could roll it back.
        if (presence.resourceVersionOf(namespace, name) !== before) return;
        this.#retries.delete(key);
        this.#store(value);
      },
      (err: unknown) => {
        this.#inflight.delete(key);
        if (this.#stopped || statusOf(err) === 404) return;
        this.#scheduleRetry(key, err);
      },
    );
  }

  #scheduleRetry(key: string, err: unknown): void {
    if (!this.refs.isReferenced(key)) return;
    let retry = this.#retries.get(key);
    if (retry === undefined) {
      retry = { backoff: new Backoff(this.#o.backoff) };
      this.#retries.set(key, retry);
    }
    const delay = retry.backoff.next();
    this.#log.warn(
      { secret: key, err: err instanceof Error ? err.message : String(err), retryInMs: delay },
      'reading a referenced Secret failed; retrying',
    );
    const entry = retry;
    entry.timer = this.#clock.setTimeout(() => {
      delete entry.timer;
      this.#fetch(key);
    }, delay);
  }

  #cancelRetry(key: string): void {
    const r = this.#retries.get(key);
    if (r?.timer) this.#clock.clearTimeout(r.timer);
    this.#retries.delete(key);
  }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

function sameContent(a: Secret, b: Secret): boolean {
  if (a.type !== b.type) return false;
  const ad = a.data ?? {};
  const bd = b.data ?? {};
  const ak = Object.keys(ad);
  if (ak.length !== Object.keys(bd).length) return false;
  return ak.every((k) => ad[k] === bd[k]);
}
