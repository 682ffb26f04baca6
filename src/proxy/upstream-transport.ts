/**
 * `upstream-transport` turns a route's `backend-protocol` and `proxy-ssl-*` policy into the
 * transport Portico speaks to the backend, and names each distinct transport with a key: pools
 * are per (endpoint, transport key), so two Ingresses sending the same Service port over
 * different protocols (or with different CA bundles or names) never share a connection.
 *
 * Pure: no I/O; the CA bundle comes from the `TlsTable` the controller published.
 */
import type { BackendProtocol, BackendRef, RoutePolicy } from '../model/types.js';
import type { CaBundle, CaBundleCheck } from '../tls/ca-bundles.js';

/** `UpstreamTls` is how one TLS transport connects: what is verified, what is sent as SNI. */
export interface UpstreamTls {
  /** Verify the backend's certificate (chain to `ca`, valid for `checkName`). */
  readonly verify: boolean;
  /** Present when `verify`. */
  readonly ca?: CaBundle;
  /** The name the certificate must be valid for (meaningful when `verify`). */
  readonly checkName: string;
  /** SNI name sent in the ClientHello; absent: no SNI at all. */
  readonly sni?: string;
}

/** `UpstreamTransport` is a non-default way to reach a backend (HTTP/1.1 cleartext needs none). */
export interface UpstreamTransport {
  readonly protocol: Exclude<BackendProtocol, 'HTTP'>;
  /** HTTP/2 (GRPC, GRPCS, H2C) rather than HTTP/1.1 (HTTPS). */
  readonly h2: boolean;
  /** Present for HTTPS and GRPCS. */
  readonly tls?: UpstreamTls;
  /** Identifies the transport (pools are keyed by it together with the endpoint). */
  readonly key: string;
}

/** `TransportChoice` is a route's transport, or why the route must fail closed (503). */
export type TransportChoice =
  | { readonly ok: true; readonly transport: UpstreamTransport }
  | { readonly ok: false; readonly reason: string };

/** `defaultUpstreamName` is `proxy-ssl-name`'s default: the Service's cluster DNS name. */
export function defaultUpstreamName(backend: Pick<BackendRef, 'service' | 'namespace'>): string {
  return `${backend.service}.${backend.namespace}.svc`;
}

/** `transportKey` names a transport: equal keys connect identically. */
export function transportKey(protocol: UpstreamTransport['protocol'], tls: UpstreamTls | undefined): string {
  if (tls === undefined) return protocol;
  const check = tls.verify ? `verify=${tls.ca?.fingerprint ?? '-'}@${tls.checkName}` : 'noverify';
  return `${protocol} ${check} sni=${tls.sni ?? ''}`;
}

/**
 * `chooseTransport` is the transport of a route whose policy is not plain HTTP (`undefined` for
 * HTTP). A verifying route whose CA bundle is missing or unusable fails closed: it is never
 * downgraded to an unverified connection.
 */
export function chooseTransport(
  policy: RoutePolicy,
  backend: Pick<BackendRef, 'service' | 'namespace'>,
  caBundles: ReadonlyMap<string, CaBundleCheck> | undefined,
): TransportChoice | undefined {
  const protocol = policy.backendProtocol;
  if (protocol === 'HTTP') return undefined;
  const h2 = protocol !== 'HTTPS';
  if (protocol !== 'HTTPS' && protocol !== 'GRPCS') {
    return { ok: true, transport: { protocol, h2, key: transportKey(protocol, undefined) } };
  }
  const policyTls = policy.upstreamTls;
  const checkName = policyTls?.serverName ?? defaultUpstreamName(backend);
  const sni = policyTls?.sendServerName === true ? checkName : undefined;
  let ca: CaBundle | undefined;
  if (policyTls?.verify === true) {
    const secret = policyTls.caSecret;
    if (secret === undefined) {
      return { ok: false, reason: 'proxy-ssl-verify is "on" but no proxy-ssl-secret names the CA bundle' };
    }
    const name = `${secret.namespace}/${secret.name}`;
    const check = caBundles?.get(name);
    if (check === undefined) return { ok: false, reason: `proxy-ssl-secret ${name}: CA bundle not loaded` };
    if (!check.ok) return { ok: false, reason: `proxy-ssl-secret ${name}: ${check.reason}` };
    ca = check.bundle;
  }
  const tls: UpstreamTls = {
    verify: ca !== undefined,
    checkName,
    ...(ca !== undefined ? { ca } : {}),
    ...(sni !== undefined ? { sni } : {}),
  };
  return { ok: true, transport: { protocol, h2, tls, key: transportKey(protocol, tls) } };
}
