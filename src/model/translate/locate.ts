/**
 * `locate` turns diagnostic field paths into `file:line:column` in file mode.
 */

import type { StoredObject } from '../../store/object-store.js';
import type { Diagnostic, DiagnosticCode, Severity } from '../diagnostics.js';
import { formatLocation, objectLabel } from '../diagnostics.js';
import type { KubeObject } from '../objects.js';

/**
 * `parentField` returns the field one level up: `spec.rules[0].host` → `spec.rules[0]` →
 * `spec.rules` → `spec` → `''`. The empty string stands for the whole document.
 */
export function parentField(field: string): string {
  if (field.endsWith(']')) {
    const open = field.lastIndexOf('[');
    return open >= 0 ? field.slice(0, open) : '';
  }
  const dot = field.lastIndexOf('.');
  return dot >= 0 ? field.slice(0, dot) : '';
}

/**
 * `locateField` finds where `field` was written. A field the author left out has no location of its
 * own, so it falls back to the longest parent that has one, and finally to the document itself.
 */
export function locateField(stored: StoredObject, field: string): string | undefined {
  const locate = stored.locate;
  if (!locate) return undefined;
  let current = field;
  for (;;) {
    const loc = locate(current);
    if (loc) return formatLocation(loc);
    if (current === '') return undefined;
    current = parentField(current);
  }
}

/** `DiagnosticFactory` builds diagnostics bound to one stored object. */
export type DiagnosticFactory = (
  severity: Severity,
  code: DiagnosticCode,
  field: string,
  message: string,
) => Diagnostic;

/** `diagnosticsFor` returns a factory that fills `object` and `source` for one stored object. */
export function diagnosticsFor(stored: StoredObject<KubeObject>): DiagnosticFactory {
  // File mode can hand over anything YAML parses to, so nothing about the object is trusted here.
  const raw: Partial<KubeObject> | null | undefined = stored.object;
  const meta = typeof raw === 'object' && raw !== null ? raw.metadata : undefined;
  const object = objectLabel(String(raw?.kind ?? 'Object'), meta?.namespace, String(meta?.name ?? ''));
  return (severity, code, field, message) => {
    const source = locateField(stored, field);
    return source === undefined
      ? { severity, code, object, field, message }
      : { severity, code, object, field, message, source };
  };
}
