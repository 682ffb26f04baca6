/**
 * `types` describes the endpoint table: which addresses serve each backend key. It is rebuilt on
 * EndpointSlice changes without re-translating routes (DESIGN §1, fast path).
 */

export interface UpstreamEndpoint {
  /** An IP address (v4 or v6, no brackets) or, for ExternalName Services, a DNS name. */
  readonly address: string;
  readonly port: number;
  readonly kind: 'ip' | 'dns';
}

/** Backend key (`"namespace/service:port"`) → ready endpoints, in a stable order. */
export type EndpointTable = ReadonlyMap<string, readonly UpstreamEndpoint[]>;
