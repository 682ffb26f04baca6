/**
 * `report` builds what `portico migrate-check` prints: per Ingress, every annotation under
 * Portico's prefixes with its status (`status.ts`), and where it was written in file mode. Pure.
 *
 * JSON shape (`--output json`), stable for scripts:
 *
 *   {
 *     "ingressNginx": "controller-v1.15.1",       // the release the annotation list follows
 *     "ok": false,                                // true when nothing is refused or unknown
 *     "counts": { "supported": 3, "supported-with-difference": 1, "refused": 1, "unknown": 1 },
 *     "ingresses": [{
 *       "ingress": "shop/web",                    // namespace/name, sorted
 *       "source": "ingress.yaml:3:1",             // file mode only
 *       "annotations": [{                         // sorted by key
 *         "key": "nginx.ingress.kubernetes.io/backend-protocol",
 *         "status": "supported-with-difference",  // supported | supported-with-difference | refused | unknown
 *         "family": "backend-protocol",           // supported statuses
 *         "portico": "portico.dev/backend-protocol",
 *         "difference": "…",                      // supported-with-difference
 *         "reason": "…",                          // refused and unknown
 *         "invalid": "…",                         // the value would reject the Ingress (supported statuses)
 *         "source": "ingress.yaml:6:5"            // file mode only
 *       }]
 *     }]
 *   }
 */
import { readIngressAnnotations } from '../model/annotations/registry.js';
import { annotationField, PREFIXES } from '../model/annotations/spec.js';
import type { Ingress } from '../model/objects.js';
import { locateField } from '../model/translate/locate.js';
import type { StoredObject } from '../store/object-store.js';
import { INGRESS_NGINX_TAG } from './ingress-nginx-annotations.js';
import {
  type AnnotationVerdict,
  annotationVerdict,
  failsMigration,
  type MigrationStatus,
  STATUS_LABELS,
} from './status.js';

/** `AnnotationLine` is one annotation of one Ingress. */
export interface AnnotationLine extends AnnotationVerdict {
  /** Why Portico would reject the Ingress for this value, when it would. */
  readonly invalid?: string;
  readonly source?: string;
}

/** `IngressMigration` is one Ingress's annotations. */
export interface IngressMigration {
  readonly ingress: string;
  readonly source?: string;
  readonly annotations: readonly AnnotationLine[];
}

/** `MigrationReport` is the whole answer. */
export interface MigrationReport {
  readonly ingressNginx: string;
  readonly ok: boolean;
  readonly counts: Readonly<Record<MigrationStatus, number>>;
  readonly ingresses: readonly IngressMigration[];
}

const STATUSES: readonly MigrationStatus[] = ['supported', 'supported-with-difference', 'refused', 'unknown'];

function ingressKey(ingress: Ingress): string {
  const meta: Partial<Ingress['metadata']> | undefined = ingress?.metadata;
  return `${meta?.namespace ?? 'default'}/${String(meta?.name ?? '')}`;
}

/** `migrationReport` checks every Ingress given (whatever its class: this is about moving them). */
export function migrationReport(ingresses: readonly StoredObject<Ingress>[]): MigrationReport {
  const counts: Record<MigrationStatus, number> = {
    supported: 0,
    'supported-with-difference': 0,
    refused: 0,
    unknown: 0,
  };
  const out: IngressMigration[] = [];
  for (const stored of ingresses) {
    const raw: unknown = stored.object?.metadata?.annotations;
    const annotations =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    const problems = readIngressAnnotations(stored.object).problems;
    const keys = Object.keys(annotations)
      .filter((k) => PREFIXES.some((p) => k.startsWith(`${p}/`)))
      .sort();
    const lines: AnnotationLine[] = keys.map((key) => {
      const verdict = annotationVerdict(key);
      counts[verdict.status]++;
      const field = annotationField(key);
      const problem =
        verdict.status === 'refused' ? undefined : problems.find((p) => p.field === field)?.message;
      const source = locateField(stored, field);
      return {
        ...verdict,
        ...(problem !== undefined ? { invalid: problem } : {}),
        ...(source !== undefined ? { source } : {}),
      };
    });
    const source = locateField(stored, '');
    out.push({
      ingress: ingressKey(stored.object),
      ...(source !== undefined ? { source } : {}),
      annotations: lines,
    });
  }
  out.sort((a, b) => (a.ingress < b.ingress ? -1 : a.ingress > b.ingress ? 1 : 0));
  const ok = STATUSES.every((s) => !failsMigration(s) || counts[s] === 0);
  return { ingressNginx: INGRESS_NGINX_TAG, ok, counts, ingresses: out };
}

function describeLine(line: AnnotationLine): string {
  let text = `${line.key}: ${STATUS_LABELS[line.status]}`;
  if (line.portico !== undefined && line.portico !== line.key) text += ` (Portico spelling: ${line.portico})`;
  if (line.difference !== undefined) text += ` — ${line.difference}`;
  if (line.reason !== undefined) text += ` — ${line.reason}`;
  return text;
}

/** `renderMigrationText` prints the report for people. */
export function renderMigrationText(report: MigrationReport): string {
  const out: string[] = [];
  for (const ingress of report.ingresses) {
    out.push(`Ingress ${ingress.ingress}${ingress.source !== undefined ? ` (${ingress.source})` : ''}`);
    if (ingress.annotations.length === 0) out.push('  no ingress-nginx or Portico annotations');
    for (const line of ingress.annotations) {
      out.push(`  ${describeLine(line)}`);
      if (line.invalid !== undefined)
        out.push(`    invalid value, the Ingress would be rejected: ${line.invalid}`);
    }
  }
  const total = STATUSES.reduce((n, s) => n + report.counts[s], 0);
  const parts = STATUSES.map((s) => `${report.counts[s]} ${STATUS_LABELS[s]}`);
  out.push(
    '',
    `${report.ingresses.length} Ingress${report.ingresses.length === 1 ? '' : 'es'}, ${total} annotation${total === 1 ? '' : 's'}: ${parts.join(', ')}.`,
    report.ok
      ? 'Nothing is refused or unknown: these Ingresses carry over as they are.'
      : 'Refused or unknown annotations: fix them before switching (docs/ingress-nginx-migration.md).',
  );
  return `${out.join('\n')}\n`;
}
