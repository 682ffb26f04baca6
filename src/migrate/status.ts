/**
 * `status` says what Portico does with one annotation key, derived from the tables the parsers
 * use and nothing else: a family row that reads the key (`FAMILIES` in the annotation registry)
 * makes it supported — with a documented difference when the row has `differs` — the refusal
 * table makes it refused, and anything else under Portico's prefixes is unknown (ignored, and
 * reported). Families added later change the answers without touching this module.
 */

import { nameOf, refusalOf } from '../model/annotations/refused.js';
import { FAMILIES } from '../model/annotations/registry.js';
import {
  type AnnotationFamily,
  type AnnotationSpec,
  type AnnotationTable,
  PREFIXES,
  type Prefix,
} from '../model/annotations/spec.js';

/** `MigrationStatus` is the verdict on one annotation. */
export type MigrationStatus = 'supported' | 'supported-with-difference' | 'refused' | 'unknown';

/** `STATUS_LABELS` are the words people read for each status. */
export const STATUS_LABELS: Readonly<Record<MigrationStatus, string>> = {
  supported: 'supported',
  'supported-with-difference': 'supported with a documented difference',
  refused: 'refused',
  unknown: 'unknown (ignored)',
};

/** `AnnotationVerdict` is the status of one key and what explains it. */
export interface AnnotationVerdict {
  /** The full key, e.g. `nginx.ingress.kubernetes.io/rewrite-target`. */
  readonly key: string;
  readonly status: MigrationStatus;
  /** The family that reads it (supported statuses). */
  readonly family?: string;
  /** The spelling Portico documents for it (`portico.dev/…` when that prefix is read). */
  readonly portico?: string;
  /** What differs from ingress-nginx (`supported-with-difference`). */
  readonly difference?: string;
  /** Why it is refused or ignored. */
  readonly reason?: string;
}

interface Reading {
  readonly family: string;
  /** The row's main name (the key may be an alias). */
  readonly name: string;
  readonly spec: AnnotationSpec<unknown>;
}

/** `readingOf` finds the family row that reads `prefix/name`, if any. */
function readingOf(
  families: readonly AnnotationFamily<AnnotationTable>[],
  prefix: Prefix,
  name: string,
): Reading | undefined {
  for (const family of families) {
    for (const [main, spec] of Object.entries(family.specs) as [string, AnnotationSpec<unknown>][]) {
      if (!(spec.prefixes ?? PREFIXES).includes(prefix)) continue;
      if (main === name || (spec.aliases ?? []).includes(name))
        return { family: family.family, name: main, spec };
    }
  }
  return undefined;
}

export const UNKNOWN_REASON =
  'Portico does not implement it; the Ingress is served without it (reported as PORTICO_WARN_ANNOTATION_UNKNOWN)';

/**
 * `annotationVerdict` returns the status of one full key. Keys outside Portico's prefixes are
 * `unknown` with a reason saying Portico does not read that prefix. `families` defaults to the
 * registry's (tests pass their own tables).
 */
export function annotationVerdict(
  key: string,
  families: readonly AnnotationFamily<AnnotationTable>[] = FAMILIES,
): AnnotationVerdict {
  const name = nameOf(key);
  if (name === undefined) {
    return { key, status: 'unknown', reason: `Portico reads only the ${PREFIXES.join(' and ')} prefixes` };
  }
  // The refusal table wins: a refused name is never served, whatever a table says.
  const refusal = refusalOf(name);
  if (refusal !== undefined) return { key, status: 'refused', reason: refusal.reason };
  const prefix = PREFIXES.find((p) => key.startsWith(`${p}/`)) as Prefix;
  const reading = readingOf(families, prefix, name);
  if (reading === undefined) return { key, status: 'unknown', reason: UNKNOWN_REASON };
  const prefixes = reading.spec.prefixes ?? PREFIXES;
  const portico = `${prefixes.includes('portico.dev') ? 'portico.dev' : prefix}/${reading.name}`;
  // A difference is about ingress-nginx's meaning: Portico's own spelling has nothing to differ from.
  const differs = prefix === 'nginx.ingress.kubernetes.io' ? reading.spec.differs : undefined;
  return differs === undefined
    ? { key, status: 'supported', family: reading.family, portico }
    : { key, status: 'supported-with-difference', family: reading.family, portico, difference: differs };
}

/** `failsMigration` says whether a status makes `migrate-check` exit 1. */
export function failsMigration(status: MigrationStatus): boolean {
  return status === 'refused' || status === 'unknown';
}
