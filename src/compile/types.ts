/**
 * `types` is the contract between the compiled routing snapshot and the data plane.
 */
import type { BackendRef, Route, RoutingModel } from '../model/types.js';

export type MatchKind = 'path' | 'host-default' | 'catch-all' | 'not-found';

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
}
