/**
 * `types` is the contract between the compiled routing snapshot and the data plane.
 */
import type { BackendRef, ClientAuthPolicy, Route, RoutePolicy, RoutingModel } from '../model/types.js';
import type { PreparedRewrite } from './rewrite.js';

export type MatchKind = 'path' | 'host-default' | 'catch-all' | 'not-found' | 'host-redirect';

/**
 * `RouteMatch` is what a lookup returns. Compile prebuilds one per route and per default, so a
 * lookup allocates nothing.
 */
export interface RouteMatch {
  readonly kind: MatchKind;
  /** Absent only for `not-found` (the built-in 404). */
  readonly backend?: BackendRef;
  /** The matched path rule, for `path`. */
  readonly route?: Route;
  /** `"namespace/name"` of the Ingress that supplied the answer, if any. */
  readonly ingress?: string;
  /** The answering Ingress's location policy (`DEFAULT_ROUTE_POLICY` when it has none, and for `not-found`). */
  readonly policy: RoutePolicy;
  /** The request's host is listed in `spec.tls` of a served Ingress (exactly or by wildcard). */
  readonly tlsHost: boolean;
  /** Client-certificate authentication of the matched host, if it has any. */
  readonly clientAuth?: ClientAuthPolicy;
  /** The route's `rewrite` policy prepared at compile (`app-root`, `rewrite-target`); absent: none. */
  readonly rewrite?: PreparedRewrite;
  /** `host-redirect` (`from-to-www-redirect`): the host every request of this name is redirected to. */
  readonly hostRedirect?: string;
}

/** `RouteSnapshot` is the immutable, compiled routing table the data plane swaps atomically. */
export interface RouteSnapshot {
  readonly generation: number;
  readonly model: RoutingModel;
  /**
   * `match` finds the answer for a request. `host` must already be normalised (`normalizeHost`),
   * `path` normalised (`normalizeRequestPath`) and without query string.
   */
  match(host: string, path: string): RouteMatch;
  /** Every answer `match` can give (route matches and fallbacks), e.g. to prepare per-route state. */
  readonly matches?: readonly RouteMatch[];
}
