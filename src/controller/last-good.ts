/**
 * `last-good` keeps, per Ingress, the last version that validated, so an edit that breaks an Ingress
 * rejects the edit, not the Ingress: its previous routes stay in service (DESIGN §5).
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { Ingress } from '../model/objects.js';
import type { StoredObject } from '../store/object-store.js';
import { objectKey } from '../util/keys.js';

/** `Rejection` is an Ingress whose current version has errors. */
export interface Rejection {
  /** `"namespace/name"` of the Ingress. */
  readonly ingress: string;
  /** The validation errors of the current version. */
  readonly diagnostics: readonly Diagnostic[];
  /** True when an earlier, valid version is served instead. */
  readonly servingLastGood: boolean;
}

/** `Selection` is what translation should see, and what was rejected on the way. */
export interface Selection {
  readonly ingresses: readonly StoredObject<Ingress>[];
  readonly rejected: readonly Rejection[];
  /** Warnings from validating versions that were accepted. */
  readonly warnings: readonly Diagnostic[];
}

export type IngressValidator = (stored: StoredObject<Ingress>) => readonly Diagnostic[];

/** `isOurs` says whether this controller serves an Ingress; others are passed through unvalidated. */
export type OwnershipCheck = (ingress: Ingress) => boolean;

/**
 * `LastGoodIngresses` chooses, for every Ingress, the version to translate: the current one when it
 * validates, else the last one that did (if any). An Ingress that disappears, or stops being ours,
 * forgets its last good version, so deleting and re-creating it starts clean.
 */
export class LastGoodIngresses {
  readonly #validate: IngressValidator;
  readonly #good = new Map<string, StoredObject<Ingress>>();

  constructor(validate: IngressValidator) {
    this.#validate = validate;
  }

  /** `size` is the number of Ingresses with a remembered good version. */
  get size(): number {
    return this.#good.size;
  }

  /** `select` validates the current Ingresses and returns the versions to translate. */
  select(current: readonly StoredObject<Ingress>[], isOurs?: OwnershipCheck): Selection {
    const ingresses: StoredObject<Ingress>[] = [];
    const rejected: Rejection[] = [];
    const warnings: Diagnostic[] = [];
    const present = new Set<string>();
    for (const stored of current) {
      const key = objectKey(stored.object.metadata.namespace, stored.object.metadata.name);
      if (isOurs && !isOurs(stored.object)) {
        // Not ours: translation reports it as ignored. Validating it would only be noise.
        ingresses.push(stored);
        continue;
      }
      present.add(key);
      const diagnostics = this.#validate(stored);
      const errors = diagnostics.filter((d) => d.severity === 'error');
      if (errors.length === 0) {
        this.#good.set(key, stored);
        ingresses.push(stored);
        warnings.push(...diagnostics);
        continue;
      }
      const last = this.#good.get(key);
      if (last) ingresses.push(last);
      rejected.push({ ingress: key, diagnostics: errors, servingLastGood: last !== undefined });
    }
    for (const key of [...this.#good.keys()]) if (!present.has(key)) this.#good.delete(key);
    return { ingresses, rejected, warnings };
  }
}
