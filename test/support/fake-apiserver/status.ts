/**
 * `status` builds the `metav1.Status` failure objects the real apiserver answers errors with, so
 * clients see the same `code`, `reason`, `message` and `details` they would from a cluster.
 */
import type { ResourceInfo } from './resources.js';

/** `StatusCause` is one entry of `details.causes` (a field-level validation error). */
export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field: string;
}

/** `StatusDetails` is `metav1.StatusDetails`. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** `StatusObject` is the JSON shape of `metav1.Status`. */
export interface StatusObject {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** `ApiError` carries a failure `Status` from the store up to the HTTP layer (or to a direct caller). */
export class ApiError extends Error {
  constructor(readonly status: StatusObject) {
    super(status.message ?? status.reason ?? `status ${status.code}`);
    this.name = 'ApiError';
  }

  /** The HTTP status code. */
  get code(): number {
    return this.status.code;
  }
}

/** `failure` builds a failure `Status`. */
export function failure(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): StatusObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** `qualified` is `resource.group` (`ingresses.networking.k8s.io`), or the bare plural for core. */
export function qualified(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group === '' ? info.resource : `${info.resource}.${info.group}`;
}

function details(info: Pick<ResourceInfo, 'group' | 'resource'>, name: string): StatusDetails {
  return { name, ...(info.group === '' ? {} : { group: info.group }), kind: info.resource };
}

/** `notFound` is the 404 for a missing object, worded like the real server. */
export function notFound(info: Pick<ResourceInfo, 'group' | 'resource'>, name: string): ApiError {
  return new ApiError(
    failure(404, 'NotFound', `${qualified(info)} "${name}" not found`, details(info, name)),
  );
}

/** `alreadyExists` is the 409 for creating an existing name. */
export function alreadyExists(info: Pick<ResourceInfo, 'group' | 'resource'>, name: string): ApiError {
  return new ApiError(
    failure(409, 'AlreadyExists', `${qualified(info)} "${name}" already exists`, details(info, name)),
  );
}

/** `conflict` is the 409 optimistic-concurrency failure. */
export function conflict(
  info: Pick<ResourceInfo, 'group' | 'resource'>,
  name: string,
  why: string,
): ApiError {
  return new ApiError(
    failure(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(info)} "${name}": ${why}`,
      details(info, name),
    ),
  );
}

/** `invalid` is the 422 with one cause per field error. */
export function invalid(info: ResourceInfo, name: string, causes: readonly StatusCause[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  const groupKind = info.group === '' ? info.kind : `${info.kind}.${info.group}`;
  return new ApiError(
    failure(422, 'Invalid', `${groupKind} "${name}" is invalid: ${summary}`, {
      name,
      ...(info.group === '' ? {} : { group: info.group }),
      kind: info.kind,
      causes,
    }),
  );
}

/** `badRequest` is a 400. */
export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, 'BadRequest', message));
}

/** `gone` is a 410 for a compacted resourceVersion. */
export function gone(message: string): ApiError {
  return new ApiError(failure(410, 'Expired', message));
}
