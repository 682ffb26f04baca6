/**
 * `diagnostics` is how pure layers report bad input: they never throw for it (DESIGN §5).
 */

/** `SourceLocation` points into a manifest file (file mode only). Lines and columns are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** 0-based index of the YAML document within the file. */
  readonly documentIndex: number;
}

export type Severity = 'error' | 'warning';

/** Stable codes callers and tests can assert on. */
export type DiagnosticCode =
  | 'PORTICO_ERR_MANIFEST_PARSE'
  | 'PORTICO_ERR_OBJECT_INVALID'
  | 'PORTICO_ERR_PATH_INVALID'
  | 'PORTICO_ERR_HOST_INVALID'
  | 'PORTICO_ERR_BACKEND_INVALID'
  | 'PORTICO_WARN_PATH_CONFLICT'
  | 'PORTICO_WARN_SERVICE_MISSING'
  | 'PORTICO_WARN_SERVICE_PORT_MISSING'
  | 'PORTICO_WARN_DEFAULT_BACKEND_CONFLICT'
  | 'PORTICO_WARN_KEEPING_LAST_GOOD'
  | 'PORTICO_WARN_UNSUPPORTED'
  /** Two Ingresses (or entries) name different Secrets for one TLS host; the oldest wins. */
  | 'PORTICO_WARN_TLS_CONFLICT'
  /** A TLS Secret failed a hard check (missing, malformed, key mismatch): its hosts get the default certificate. */
  | 'PORTICO_WARN_TLS_SECRET_INVALID'
  /** A Basic-auth Secret is missing or has no usable user (its routes answer 503), or has lines left out. */
  | 'PORTICO_WARN_AUTH_SECRET_INVALID'
  /** A TLS certificate is served but looks wrong for its host: expired, or its SANs do not cover the host. */
  | 'PORTICO_WARN_TLS_CERTIFICATE'
  /** An annotation value Portico cannot use: the Ingress is rejected (its last good version serves). */
  | 'PORTICO_ERR_ANNOTATION_INVALID'
  /** An annotation under Portico's prefixes that no family reads: ignored. */
  | 'PORTICO_WARN_ANNOTATION_UNKNOWN'
  /** A well-formed policy that must not be served (e.g. cross-namespace Secret): its routes answer 503. */
  | 'PORTICO_WARN_ANNOTATION_DENIED'
  /** A host-scoped annotation is ignored because an older Ingress of the host sets it. */
  | 'PORTICO_WARN_HOST_ANNOTATION_IGNORED'
  /** A CA bundle Secret (`ca.crt`) is missing or malformed: the routes or hosts using it fail closed. */
  | 'PORTICO_WARN_CA_SECRET_INVALID'
  /** An annotation that is read but not used, e.g. an nginx spelling overridden by `portico.dev/`. */
  | 'PORTICO_WARN_ANNOTATION_IGNORED'
  /** A RateLimitPolicy fails validation: its last good version (if any) stays in force. */
  | 'PORTICO_ERR_RATE_LIMIT_POLICY_INVALID'
  /** An Ingress's `rate-limit-policy` is missing or rejected: no limit, or the policy's last good one. */
  | 'PORTICO_WARN_RATE_LIMIT_POLICY'
  /** A canary path is not attached: no main route for its host and path, or an older canary has it. */
  | 'PORTICO_WARN_CANARY'
  /** An entry of a `--tcp-services-configmap` / `--udp-services-configmap` is rejected; the others keep working. */
  | 'PORTICO_ERR_L4_ENTRY_INVALID'
  /** An L4Route is rejected (invalid, conflicting, unresolvable or not possible in the L4 mode). */
  | 'PORTICO_ERR_L4_ROUTE_INVALID'
  /** An L4 service is served with a caveat (no ready endpoints, a PROXY field ignored, a ConfigMap missing). */
  | 'PORTICO_WARN_L4';

export interface Diagnostic {
  readonly severity: Severity;
  readonly code: DiagnosticCode;
  /** `"Kind namespace/name"`, e.g. `"Ingress default/shop"`. */
  readonly object: string;
  /** JSON-path-like field, e.g. `spec.rules[0].http.paths[1].path`; empty for the whole object. */
  readonly field: string;
  readonly message: string;
  /** `file:line:column` in file mode, when known. */
  readonly source?: string;
}

/** `objectLabel` formats the `object` field of a diagnostic. */
export function objectLabel(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind} ${namespace}/${name}` : `${kind} ${name}`;
}

/** `formatLocation` renders a `SourceLocation` as `file:line:column`. */
export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

/** `describeDiagnostic` is a diagnostic as log fields (the source location only when known). */
export function describeDiagnostic(d: Diagnostic): Record<string, string> {
  return {
    object: d.object,
    field: d.field,
    ...(d.source !== undefined ? { source: d.source } : {}),
    code: d.code,
    message: d.message,
  };
}
