/**
 * `ca-bundles` reads the CA bundles annotations point at (`ca.crt` of the Secrets named by
 * `auth-tls-secret` and `proxy-ssl-secret`): which Ingress fields reference which Secret, and
 * whether a Secret holds a usable bundle. A missing or malformed bundle fails closed where it is
 * used (client-certificate hosts and verifying backends answer 503), never opens.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Secret } from '../model/objects.js';
import type { RoutePolicy, RoutingModel } from '../model/types.js';
import { secretValue } from './certificates.js';

/** `CA_BUNDLE_KEY` is the Secret key holding the PEM bundle, as in ingress-nginx. */
export const CA_BUNDLE_KEY = 'ca.crt';

/** `CaBundle` is a checked CA bundle. */
export interface CaBundle {
  /** The PEM text as stored (what `tls.connect({ ca })` takes). */
  readonly pem: string;
  /** Each certificate of the bundle, parsed. */
  readonly certificates: readonly X509Certificate[];
  /** sha256 of `pem`: identifies the content (pools and contexts are keyed by it). */
  readonly fingerprint: string;
}

export type CaBundleCheck =
  | { readonly ok: true; readonly bundle: CaBundle }
  | { readonly ok: false; readonly reason: string };

/** `CaReference` is one place a CA Secret is used. */
export interface CaReference {
  /** `"namespace/name"` of the Ingress. */
  readonly ingress: string;
  /** The annotation's field. */
  readonly field: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** `checkCaBundle` parses `ca.crt`: at least one certificate, every block well-formed. */
export function checkCaBundle(secret: Secret | undefined): CaBundleCheck {
  if (secret === undefined) return { ok: false, reason: 'Secret not found' };
  const pem = secretValue(secret, CA_BUNDLE_KEY);
  if (pem === undefined || pem.trim() === '') return { ok: false, reason: `no ${CA_BUNDLE_KEY} key` };
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return { ok: false, reason: `${CA_BUNDLE_KEY} holds no PEM certificate` };
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (err) {
      return {
        ok: false,
        reason: `${CA_BUNDLE_KEY} certificate ${i + 1} does not parse: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
  const fingerprint = createHash('sha256').update(pem).digest('hex');
  return { ok: true, bundle: Object.freeze({ pem, certificates, fingerprint }) };
}

/**
 * `caSecretReferences` lists, per CA Secret (`"namespace/name"`), where the model uses it: route
 * and default-backend policies (`proxy-ssl-secret`) and host client-certificate policies.
 */
export function caSecretReferences(model: RoutingModel): Map<string, CaReference[]> {
  const out = new Map<string, CaReference[]>();
  const add = (namespace: string, name: string, ref: CaReference): void => {
    const key = `${namespace}/${name}`;
    const list = out.get(key);
    if (list === undefined) out.set(key, [ref]);
    else if (!list.some((r) => r.ingress === ref.ingress && r.field === ref.field)) list.push(ref);
  };
  const fromPolicy = (policy: RoutePolicy | undefined, ingress: string): void => {
    const ca = policy?.upstreamTls?.caSecret;
    if (ca === undefined || policy?.deny !== undefined) return;
    add(ca.namespace, ca.name, { ingress, field: 'metadata.annotations' });
  };
  for (const route of model.routes) fromPolicy(route.policy, route.ingress);
  for (const binding of model.hostDefaults.values()) fromPolicy(binding.policy, binding.ingress);
  if (model.catchAll !== undefined) fromPolicy(model.catchAll.policy, model.catchAll.ingress);
  for (const auth of model.clientAuth?.values() ?? []) {
    if (auth.deny !== undefined) continue;
    add(auth.caSecret.namespace, auth.caSecret.name, { ingress: auth.ingress, field: auth.field });
  }
  return out;
}
