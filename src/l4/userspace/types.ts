/**
 * What the user-space mode needs beyond the kernel modes' service table: the two route options only
 * user space can honour (the issue rejects them in kernel modes). Kept here rather than on
 * `L4Service` so the renderers' model stays as it is; an `L4Service` that carries these optional
 * fields is a `UserspaceL4Service`, so a config layer can add them to what it builds.
 */
import type { L4Service, L4State } from '../model.js';
import type { ProxyProtocolVersion } from './proxy-header.js';

export interface UserspaceL4Service extends L4Service {
  /** Write a PROXY protocol header of this version to the backend before any client byte (TCP only). */
  readonly proxyProtocol?: ProxyProtocolVersion;
  /** Close a TCP connection, or forget a UDP flow, after this long without a byte either way. */
  readonly idleTimeoutMs?: number;
}

export interface UserspaceL4State extends L4State {
  readonly services: readonly UserspaceL4Service[];
}

/** `Clock` is milliseconds since some fixed point; tests inject one. */
export type Clock = () => number;

/** `endpointKey` names an endpoint the way connections and flows are grouped for draining. */
export function endpointKey(endpoint: { readonly address: string; readonly port: number }): string {
  return endpoint.address.includes(':')
    ? `[${endpoint.address}]:${endpoint.port}`
    : `${endpoint.address}:${endpoint.port}`;
}

/** Endpoints in a stable order (address, then port), so round-robin is the same on every update. */
export function orderedEndpoints<T extends { readonly address: string; readonly port: number }>(
  endpoints: readonly T[],
): T[] {
  return [...endpoints].sort((a, b) =>
    a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port,
  );
}
