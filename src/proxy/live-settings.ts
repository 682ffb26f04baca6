/**
 * `live-settings` holds the global settings the request path reads. Like the route snapshot, a
 * ConfigMap change swaps ONE immutable object: a request reads `current` once when it starts and
 * keeps that object, so its timeouts and retry budget never change halfway through.
 */
import type { HttpsOptions, UpstreamOptions } from '../config/types.js';
import type { LimitStatusCodes } from '../policy/chain.js';
import type { TrustFunction } from './forwarded-headers.js';
import type { GzipSettings } from './gzip.js';

/** `LiveSettings` is the per-request part of the global settings, ready to use (trust compiled). */
export interface LiveSettings {
  readonly upstream: UpstreamOptions;
  /** Client body idle timeout (ms): no request-body byte from the client for this long → 408. */
  readonly clientBodyIdleMs: number;
  /** Whether a peer's X-Forwarded-* headers are believed. */
  readonly trust: TrustFunction;
  /** HTTP → HTTPS redirect settings (the plain-HTTP listener reads them). */
  readonly https: HttpsOptions;
  /** The `[name, value]` Strict-Transport-Security pair (`hstsHeader`), undefined when HSTS is off. */
  readonly hsts: readonly string[] | undefined;
  /** Access log lines are written for requests that start under these settings. */
  readonly accessLog: boolean;
  /** Status of refusals by limits written with ingress-nginx's spellings (`limit-req/conn-status-code`). */
  readonly limitStatus: LimitStatusCodes;
  /** `add-headers`: `[name, value]` pairs set on every response (issue 8). */
  readonly responseHeaders?: readonly (readonly [string, string])[];
  /** `use-gzip` and its keys; absent: responses are never compressed. */
  readonly gzip?: GzipSettings;
  /** `hide-headers`: upstream response headers dropped on every route (lowercased). */
  readonly hideHeaders?: readonly string[];
  /** `proxy-set-headers`: `[name, value]` pairs set on every upstream request (issue 8). */
  readonly requestHeaders?: readonly (readonly [string, string])[];
}

/** `LiveSettingsHolder` holds the settings in force; see the module comment. */
export class LiveSettingsHolder {
  #current: LiveSettings;

  constructor(initial: LiveSettings) {
    this.#current = initial;
  }

  /** `current` is what a new request must use; read it once per request. */
  get current(): LiveSettings {
    return this.#current;
  }

  /** `publish` swaps in new settings. The object must never be mutated afterwards. */
  publish(settings: LiveSettings): void {
    this.#current = settings;
  }
}
