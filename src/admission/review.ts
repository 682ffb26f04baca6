/**
 * `review` is the wire format of the validating webhook: `admission.k8s.io/v1` AdmissionReview in,
 * AdmissionReview out. Decoding trusts nothing: the body comes from the network, and a malformed
 * review is answered 400 with a message, never with a crash or a guess.
 */

/** `ADMISSION_API_VERSION` is the only AdmissionReview version served (`admissionReviewVersions: [v1]`). */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** `Operation` is what the API server is about to do with the object. */
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** `GroupVersionKind` / `GroupVersionResource` as in an AdmissionRequest; the core group is `''`. */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** `AdmissionRequest` is the part of `request` Portico reads; the objects stay `unknown` until checked. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly operation: Operation;
  readonly namespace?: string;
  readonly name?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

/** `AdmissionStatus` is the `metav1.Status` subset shown to the user on a denial. */
export interface AdmissionStatus {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
}

/** `AdmissionVerdict` is the decision for one request, without the envelope. */
export interface AdmissionVerdict {
  readonly allowed: boolean;
  /** Set on denials: kubectl prints `message`. */
  readonly status?: AdmissionStatus;
  /** Non-fatal problems; kubectl prints each as `Warning: …`. Empty lists are left out on the wire. */
  readonly warnings: readonly string[];
}

/** `AdmissionReviewResponse` is the whole answer document. */
export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: AdmissionStatus;
    readonly warnings?: readonly string[];
  };
}

/** `DecodeResult` is a decoded request or the reason the body is not a usable AdmissionReview. */
export type DecodeResult =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function groupVersion(value: unknown, last: 'kind' | 'resource'): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const { group, version } = value;
  const named = value[last];
  // The core group is serialised as "" or left out entirely, depending on the client library.
  if (group !== undefined && typeof group !== 'string') return undefined;
  if (typeof version !== 'string' || typeof named !== 'string') return undefined;
  return { group: group ?? '', version, [last]: named };
}

/**
 * `decodeReview` parses a request body into an `AdmissionRequest`. It checks the envelope
 * (apiVersion, kind, request.uid, request.kind, request.resource, request.operation) and leaves the
 * embedded objects for the validator, which checks them with the controller's own validation.
 */
export function decodeReview(body: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { ok: false, message: `body is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isRecord(parsed)) return { ok: false, message: 'body is not a JSON object' };
  const { apiVersion, kind, request } = parsed;
  if (kind !== 'AdmissionReview') {
    return { ok: false, message: `kind ${JSON.stringify(kind)} is not "AdmissionReview"` };
  }
  if (apiVersion !== ADMISSION_API_VERSION) {
    return {
      ok: false,
      message: `apiVersion ${JSON.stringify(apiVersion)} is not supported; use "${ADMISSION_API_VERSION}" (admissionReviewVersions: [v1])`,
    };
  }
  if (!isRecord(request)) return { ok: false, message: 'request is missing or not an object' };
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '') {
    return { ok: false, message: 'request.uid is missing: it must be echoed in the response' };
  }
  const gvk = groupVersion(request['kind'], 'kind');
  if (!gvk) return { ok: false, message: 'request.kind must be {group, version, kind}' };
  const gvr = groupVersion(request['resource'], 'resource');
  if (!gvr) return { ok: false, message: 'request.resource must be {group, version, resource}' };
  const operation = request['operation'];
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation)) {
    return {
      ok: false,
      message: `request.operation ${JSON.stringify(operation)} is not one of ${OPERATIONS.join(', ')}`,
    };
  }
  const namespace = optionalString(request['namespace']);
  const name = optionalString(request['name']);
  const subResource = optionalString(request['subResource']);
  const decoded: AdmissionRequest = {
    uid,
    kind: { group: gvk['group'] ?? '', version: gvk['version'] ?? '', kind: gvk['kind'] ?? '' },
    resource: { group: gvr['group'] ?? '', version: gvr['version'] ?? '', resource: gvr['resource'] ?? '' },
    operation: operation as Operation,
    ...(namespace !== undefined && namespace !== '' ? { namespace } : {}),
    ...(name !== undefined && name !== '' ? { name } : {}),
    ...(subResource !== undefined && subResource !== '' ? { subResource } : {}),
    ...(request['object'] !== undefined && request['object'] !== null ? { object: request['object'] } : {}),
    ...(request['oldObject'] !== undefined && request['oldObject'] !== null
      ? { oldObject: request['oldObject'] }
      : {}),
    ...(request['dryRun'] === true ? { dryRun: true } : {}),
  };
  return { ok: true, request: decoded };
}

/** `encodeReview` wraps a verdict in the AdmissionReview the API server expects, echoing `uid`. */
export function encodeReview(uid: string, verdict: AdmissionVerdict): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: verdict.allowed,
      ...(verdict.status ? { status: verdict.status } : {}),
      ...(verdict.warnings.length > 0 ? { warnings: verdict.warnings } : {}),
    },
  };
}
