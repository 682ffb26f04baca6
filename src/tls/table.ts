/**
 * `table` turns the model's TLS bindings and the store's Secrets into the `TlsTable` the data
 * plane serves, with diagnostics for Secrets that fail (their hosts fall back to the default
 * certificate; every other host is unaffected) or that are served with a warning.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { Secret } from '../model/objects.js';
import type { TlsBinding } from '../model/types.js';
import { type AuthSecretCheck, AuthSecretTable, type AuthSecretUse } from '../policy/auth/auth-secrets.js';
import { type CaBundleCheck, type CaReference, checkCaBundle } from './ca-bundles.js';
import {
  type CertificateCheck,
  type CertificatePair,
  checkCertificate,
  type TlsTable,
} from './certificates.js';

/** `SecretLookup` reads a Secret from the store (undefined: absent). */
export type SecretLookup = (namespace: string, name: string) => Secret | undefined;

/** `DefaultCertificateRef` is `--default-ssl-certificate NS/NAME`. */
export interface DefaultCertificateRef {
  readonly namespace: string;
  readonly name: string;
}

export interface TlsTableResult {
  readonly table: TlsTable;
  /** About the Ingresses whose Secrets fail or warn; they join the model's diagnostics (and Events). */
  readonly diagnostics: readonly Diagnostic[];
  /** Why `--default-ssl-certificate` is not used, when it is given and unusable. */
  readonly defaultProblem?: string;
  /** Every Secret whose certificate is served (by `"namespace/name"`), with its expiry, for metrics. */
  readonly certificates: ReadonlyMap<string, ServedCertificate>;
}

/** `ServedCertificate` is a TLS Secret in use and when its certificate expires. */
export interface ServedCertificate {
  readonly namespace: string;
  readonly name: string;
  /** ms since the epoch (NaN if the date could not be read). */
  readonly notAfter: number;
}

interface CacheEntry {
  readonly secret: Secret;
  readonly hosts: string;
  readonly check: CertificateCheck;
}

/**
 * `TlsTableBuilder` checks each Secret once per version: the store keeps an object's identity
 * until it changes, so identity plus the host list is the cache key and an unrelated change (a
 * Service, another Secret) costs a map lookup per Secret, not a certificate parse.
 */
export class TlsTableBuilder {
  #cache = new Map<string, CacheEntry>();
  #caCache = new Map<string, { readonly secret: Secret | undefined; readonly check: CaBundleCheck }>();
  readonly #authSecrets = new AuthSecretTable();

  build(
    bindings: ReadonlyMap<string, TlsBinding> | undefined,
    lookup: SecretLookup,
    defaultRef?: DefaultCertificateRef,
    caReferences?: ReadonlyMap<string, readonly CaReference[]>,
    authUses?: ReadonlyMap<string, readonly AuthSecretUse[]>,
  ): TlsTableResult {
    const bySecret = new Map<
      string,
      { namespace: string; name: string; hosts: string[]; bindings: TlsBinding[] }
    >();
    for (const [host, binding] of bindings ?? []) {
      const key = `${binding.namespace}/${binding.secretName}`;
      let group = bySecret.get(key);
      if (group === undefined) {
        group = { namespace: binding.namespace, name: binding.secretName, hosts: [], bindings: [] };
        bySecret.set(key, group);
      }
      group.hosts.push(host);
      // One diagnostic per Ingress naming the Secret, at its first spec.tls field.
      if (!group.bindings.some((b) => b.ingress === binding.ingress)) group.bindings.push(binding);
    }
    const next = new Map<string, CacheEntry>();
    const hosts = new Map<string, CertificatePair>();
    const diagnostics: Diagnostic[] = [];
    const certificates = new Map<string, ServedCertificate>();
    for (const [key, group] of bySecret) {
      const check = this.#check(next, key, lookup(group.namespace, group.name), group.hosts);
      const name = `Secret ${key}`;
      if (check.ok) {
        certificates.set(key, { namespace: group.namespace, name: group.name, notAfter: check.notAfter });
        for (const host of group.hosts) hosts.set(host, check.pair);
        for (const warning of check.warnings) {
          for (const b of group.bindings) {
            diagnostics.push(
              diagnostic(b, 'PORTICO_WARN_TLS_CERTIFICATE', `${name}: ${warning}; served anyway`),
            );
          }
        }
      } else {
        const listed = group.hosts.map((h) => `"${h}"`).join(', ');
        for (const b of group.bindings) {
          diagnostics.push(
            diagnostic(
              b,
              'PORTICO_WARN_TLS_SECRET_INVALID',
              `${name} cannot be used: ${check.reason}; ${listed} get${group.hosts.length === 1 ? 's' : ''} the default certificate`,
            ),
          );
        }
      }
    }
    let defaultCertificate: CertificatePair | undefined;
    let defaultProblem: string | undefined;
    if (defaultRef !== undefined) {
      const key = `${defaultRef.namespace}/${defaultRef.name}`;
      const check = this.#check(
        next,
        `default\u0000${key}`,
        lookup(defaultRef.namespace, defaultRef.name),
        [],
      );
      if (check.ok) {
        defaultCertificate = check.pair;
        certificates.set(key, {
          namespace: defaultRef.namespace,
          name: defaultRef.name,
          notAfter: check.notAfter,
        });
      } else defaultProblem = `Secret ${key} cannot be used: ${check.reason}`;
    }
    this.#cache = next;
    const caBundles = this.#caBundles(caReferences, lookup, diagnostics);
    const authSecrets = this.#authSecrets.build(authUses ?? new Map(), lookup, diagnostics);
    return {
      table: {
        hosts,
        ...(defaultCertificate !== undefined ? { defaultCertificate } : {}),
        ...(caBundles.size > 0 ? { caBundles } : {}),
        ...(authSecrets.size > 0 ? { authSecrets } : {}),
      },
      diagnostics,
      ...(defaultProblem !== undefined ? { defaultProblem } : {}),
      certificates,
    };
  }

  /** `#caBundles` checks every referenced CA Secret once per version, reporting failures per use. */
  #caBundles(
    references: ReadonlyMap<string, readonly CaReference[]> | undefined,
    lookup: SecretLookup,
    diagnostics: Diagnostic[],
  ): Map<string, CaBundleCheck> {
    const next = new Map<string, { readonly secret: Secret | undefined; readonly check: CaBundleCheck }>();
    const out = new Map<string, CaBundleCheck>();
    for (const [key, refs] of references ?? []) {
      const slash = key.indexOf('/');
      const secret = lookup(key.slice(0, slash), key.slice(slash + 1));
      const cached = this.#caCache.get(key);
      const entry =
        cached !== undefined && cached.secret === secret ? cached : { secret, check: checkCaBundle(secret) };
      next.set(key, entry);
      out.set(key, entry.check);
      if (entry.check.ok) continue;
      for (const ref of refs) {
        diagnostics.push({
          severity: 'warning',
          code: 'PORTICO_WARN_CA_SECRET_INVALID',
          object: `Ingress ${ref.ingress}`,
          field: ref.field,
          message: `CA Secret ${key} cannot be used: ${entry.check.reason}; what needs it answers 503`,
        });
      }
    }
    this.#caCache = next;
    return out;
  }

  #check(
    next: Map<string, CacheEntry>,
    key: string,
    secret: Secret | undefined,
    hosts: string[],
  ): CertificateCheck {
    if (secret === undefined) return { ok: false, reason: 'Secret not found' };
    const hostList = hosts.join(',');
    const cached = this.#cache.get(key);
    const entry =
      cached !== undefined && cached.secret === secret && cached.hosts === hostList
        ? cached
        : { secret, hosts: hostList, check: checkCertificate(secret, hosts) };
    next.set(key, entry);
    return entry.check;
  }
}

/** `sameTable` tells whether two tables serve the same certificates (fingerprints) for the same names. */
export function sameTable(a: TlsTable | undefined, b: TlsTable): boolean {
  if (a === undefined) return false;
  if (a.defaultCertificate?.fingerprint !== b.defaultCertificate?.fingerprint) return false;
  if (a.hosts.size !== b.hosts.size) return false;
  for (const [host, pair] of b.hosts) if (a.hosts.get(host)?.fingerprint !== pair.fingerprint) return false;
  const caA = a.caBundles ?? new Map<string, CaBundleCheck>();
  const caB = b.caBundles ?? new Map<string, CaBundleCheck>();
  if (caA.size !== caB.size) return false;
  for (const [key, check] of caB) if (caIdentity(caA.get(key)) !== caIdentity(check)) return false;
  const authA = a.authSecrets ?? new Map<string, AuthSecretCheck>();
  const authB = b.authSecrets ?? new Map<string, AuthSecretCheck>();
  if (authA.size !== authB.size) return false;
  for (const [key, check] of authB) if (authIdentity(authA.get(key)) !== authIdentity(check)) return false;
  return true;
}

function diagnostic(binding: TlsBinding, code: Diagnostic['code'], message: string): Diagnostic {
  return { severity: 'warning', code, object: `Ingress ${binding.ingress}`, field: binding.field, message };
}

function authIdentity(check: AuthSecretCheck | undefined): string {
  if (check === undefined) return '';
  return check.ok ? `ok:${check.fingerprint}` : `bad:${check.reason}`;
}

function caIdentity(check: CaBundleCheck | undefined): string {
  if (check === undefined) return '';
  return check.ok ? `ok:${check.bundle.fingerprint}` : `bad:${check.reason}`;
}
