/**
 * The user-space mode reads the two route options only it can honour (the issue rejects them in
 * kernel modes) from the shared model: `L4Service.proxyProtocol` and `idleTimeoutMs`.
 */
import type { L4Service, L4State } from '../model.js';

export type UserspaceL4Service = L4Service;
export type UserspaceL4State = L4State;

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
