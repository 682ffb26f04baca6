/**
 * `tls` reads `spec.tls` of the served Ingresses: which Secret terminates TLS for which host.
 * Pure: the Secrets themselves are checked later, outside the model (they need `node:crypto`).
 */
import type { StoredObject } from '../../store/object-store.js';
import type { Diagnostic } from '../diagnostics.js';
import type { Ingress, IngressTLS } from '../objects.js';
import type { TlsBinding } from '../types.js';
import { diagnosticsFor } from './locate.js';

/**
 * `tlsBindings` maps each host of `spec.tls[].hosts` (lowercased; `*.example.com` kept as written)
 * to the Secret that serves it. `ingresses` must be oldest first (translate's age order), so the
 * oldest Ingress wins a host, as it wins a path; a loser naming a different Secret gets a warning.
 * An entry without `secretName` is skipped: such hosts get the default certificate, as in
 * ingress-nginx.
 */
export function tlsBindings(
  ingresses: readonly StoredObject<Ingress>[],
  diagnostics: Diagnostic[],
): Map<string, TlsBinding> {
  const out = new Map<string, TlsBinding>();
  for (const stored of ingresses) {
    const ingress = stored.object;
    const namespace = ingress.metadata.namespace ?? 'default';
    const key = `${namespace}/${ingress.metadata.name}`;
    const make = diagnosticsFor(stored);
    const tls: unknown = ingress.spec?.tls;
    const entries = Array.isArray(tls) ? (tls as readonly (IngressTLS | null)[]) : [];
    entries.forEach((entry, i) => {
      const secretName = entry?.secretName;
      if (typeof secretName !== 'string' || secretName === '') return;
      // File mode hands over whatever YAML parsed to; validation does not look at spec.tls.
      const hosts: readonly unknown[] = Array.isArray(entry?.hosts) ? (entry?.hosts ?? []) : [];
      hosts.forEach((raw, j) => {
        if (typeof raw !== 'string' || raw === '') return;
        const host = raw.toLowerCase();
        const field = `spec.tls[${i}].hosts[${j}]`;
        const current = out.get(host);
        if (current === undefined) {
          out.set(
            host,
            Object.freeze({ namespace, secretName, ingress: key, field: `spec.tls[${i}].secretName` }),
          );
          return;
        }
        // Same Secret twice is harmless; only a different one is a real conflict worth a warning.
        if (current.namespace === namespace && current.secretName === secretName) return;
        const winner =
          current.ingress === key
            ? `an earlier spec.tls entry of the same Ingress`
            : `Ingress ${current.ingress} (older)`;
        diagnostics.push(
          make(
            'warning',
            'PORTICO_WARN_TLS_CONFLICT',
            field,
            `TLS host "${host}" is not served with Secret ${namespace}/${secretName}: ${winner} serves it with Secret ${current.namespace}/${current.secretName}`,
          ),
        );
      });
    });
  }
  return out;
}

/**
 * `tlsHostList` lists every host of `spec.tls[].hosts` of the served Ingresses, with or without
 * `secretName` (a host without one is served with the default certificate, and redirects to HTTPS
 * all the same, as in ingress-nginx). Lowercased, deduplicated, sorted.
 */
export function tlsHostList(ingresses: readonly StoredObject<Ingress>[]): string[] {
  const out = new Set<string>();
  for (const stored of ingresses) {
    const tls: unknown = stored.object.spec?.tls;
    if (!Array.isArray(tls)) continue;
    for (const entry of tls as unknown[]) {
      const hosts: unknown =
        typeof entry === 'object' && entry !== null ? (entry as IngressTLS).hosts : undefined;
      if (!Array.isArray(hosts)) continue;
      for (const host of hosts as unknown[])
        if (typeof host === 'string' && host !== '') out.add(host.toLowerCase());
    }
  }
  return [...out].sort();
}
