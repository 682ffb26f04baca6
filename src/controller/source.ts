/**
 * `source` is the contract between a configuration source (file mode now, informers later) and the
 * controller loop.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { KubeKind } from '../model/objects.js';
import type { ObjectStore } from '../store/object-store.js';

/** `SourceChange` tells the controller what a source changed in its store. */
export interface SourceChange {
  /** Kinds with at least one object added, changed or removed. */
  readonly kinds: ReadonlySet<KubeKind>;
  /** True when the source's own diagnostics (e.g. unparsable files) changed. */
  readonly diagnosticsChanged: boolean;
}

/** `ConfigSource` feeds an `ObjectStore` and says when it holds a complete picture. */
export interface ConfigSource {
  readonly store: ObjectStore;
  /** `hasSynced` is false until the first full load; the controller publishes nothing before it. */
  hasSynced(): boolean;
  /** `diagnostics` returns problems found before translation (unparsable files, invalid documents). */
  diagnostics(): readonly Diagnostic[];
}
