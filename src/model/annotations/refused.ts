/**
 * `refused` lists annotations Portico refuses outright, under either prefix: the Ingress that
 * carries one is invalid (not served; its last good version keeps serving), as ingress-nginx does
 * for snippets when `allow-snippet-annotations` is false. Annotations are data: a value that is
 * configuration code for another proxy has no safe meaning here, and silently dropping it would
 * serve a route without whatever the snippet enforced.
 */
import { annotationField, PREFIXES } from './spec.js';

/** `Refusal` is one rule of the table: which names it covers and why they are refused. */
export interface Refusal {
  /** The names it covers, as people write them (e.g. `*-snippet`). */
  readonly rule: string;
  readonly matches: (name: string) => boolean;
  readonly reason: string;
}

export const SNIPPET_REASON = 'snippets are configuration code; Portico never runs them';

/** `REFUSALS` is the whole table (one rule today; new rules need the same justification). */
export const REFUSALS: readonly Refusal[] = [
  { rule: '*-snippet', matches: (name) => name.endsWith('-snippet'), reason: SNIPPET_REASON },
];

/** `refusalOf` returns the rule refusing an annotation name (without prefix), if any. */
export function refusalOf(name: string): Refusal | undefined {
  return REFUSALS.find((r) => r.matches(name));
}

/** `nameOf` strips one of Portico's prefixes from a key; undefined for keys under other prefixes. */
export function nameOf(key: string): string | undefined {
  const prefix = PREFIXES.find((p) => key.startsWith(`${p}/`));
  return prefix === undefined ? undefined : key.slice(prefix.length + 1);
}

/** `RefusedAnnotation` is one refused key found on an Ingress. */
export interface RefusedAnnotation {
  readonly key: string;
  readonly field: string;
  readonly message: string;
}

/** `refusedAnnotations` finds the refused keys among an Ingress's annotations, sorted by key. */
export function refusedAnnotations(annotations: Readonly<Record<string, unknown>>): RefusedAnnotation[] {
  const out: RefusedAnnotation[] = [];
  for (const key of Object.keys(annotations).sort()) {
    const name = nameOf(key);
    const refusal = name === undefined ? undefined : refusalOf(name);
    if (refusal === undefined) continue;
    out.push({
      key,
      field: annotationField(key),
      message: `annotation ${key} is refused: ${refusal.reason}; the Ingress is not served (its last good version, if any, keeps serving)`,
    });
  }
  return out;
}
