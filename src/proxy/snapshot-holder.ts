/**
 * `snapshot-holder` keeps the RouteSnapshot in force. Publishing is one reference assignment
 * (Traefik's `HTTPHandlerSwitcher`): a request reads `current` once when it starts and keeps that
 * object for its whole life, so a swap never changes the routing of a request in flight.
 */
import { NOT_FOUND } from '../compile/snapshot.js';
import type { RouteSnapshot } from '../compile/types.js';
import type { RoutingModel } from '../model/types.js';

const EMPTY_MODEL: RoutingModel = {
  routes: [],
  hostDefaults: new Map(),
  ingresses: [],
  diagnostics: [],
};

/** `EMPTY_SNAPSHOT` is in force before the first publish: every request gets the built-in 404. */
export const EMPTY_SNAPSHOT: RouteSnapshot = {
  generation: 0,
  model: EMPTY_MODEL,
  match: () => NOT_FOUND,
};

/** `SnapshotHolder` holds the current snapshot; see the module comment. */
export class SnapshotHolder {
  #current: RouteSnapshot = EMPTY_SNAPSHOT;

  /** `current` is the snapshot a new request must use; read it once per request. */
  get current(): RouteSnapshot {
    return this.#current;
  }

  /** `publish` swaps in a new snapshot. The snapshot must never be mutated afterwards. */
  publish(snapshot: RouteSnapshot): void {
    this.#current = snapshot;
  }
}
