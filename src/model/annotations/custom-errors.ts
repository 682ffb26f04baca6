/**
 * `custom-errors` is `custom-http-errors` and `default-backend` (ingress-nginx's `customhttperrors`
 * and `defaultbackend` packages). Location scoped. The Service is resolved at translation
 * (`translate/response-shaping.ts`); the request-time half is `proxy/custom-errors.ts`.
 */
import type { Parsed } from '../settings/validators.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { type Described, described } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * `statusList` reads comma-separated HTTP status codes nginx's `error_page` accepts (300–599),
 * deduplicated and sorted. Every bad item is named.
 */
export const statusList: Described<readonly number[]> = described((raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return fail('must list at least one status code');
  const bad = items.filter((i) => !/^\d{3}$/.test(i) || Number(i) < 300 || Number(i) > 599);
  if (bad.length > 0) {
    return fail(
      `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not a status code' : 'are not status codes'} from 300 to 599`,
    );
  }
  return ok([...new Set(items.map(Number))].sort((a, b) => a - b));
}, 'comma-separated status codes, 300 to 599');

// RFC 1035 label: what Service names must be.
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** `serviceName` reads the name of a Service in the Ingress's namespace. */
export const serviceName: Described<string> = described((raw) => {
  const v = raw.trim();
  if (v.includes('/'))
    return fail('must be a Service name in the Ingress\'s namespace, without "namespace/"');
  if (v.length === 0 || v.length > 63 || !SERVICE_NAME.test(v)) return fail('is not a valid Service name');
  return ok(v);
}, "Service name (the Ingress's namespace)");

export const customErrorsAnnotations = defineAnnotations(
  'custom-errors',
  "Custom error pages. When the backend answers one of the listed statuses, its response is discarded before any byte reaches the client and the request is answered by the error backend instead: `GET /` (HEAD stays HEAD) with `X-Code`, `X-Format` (the client's Accept), `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`, `X-Service-Port` and `X-Request-ID`, as ingress-nginx sends them; the client gets the error backend's status, headers and body.",
  {
    'custom-http-errors': {
      validate: statusList,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: "Upstream statuses answered by the error backend: the `default-backend` annotation's Service, else `--default-backend-service`, else Portico's built-in page for that status.",
      differs:
        "Without any default backend Portico answers its own short text page for the status (ingress-nginx needs its default backend). As with nginx's `error_page`, Portico's own 502/504 (backend failed) and 503 (no ready endpoints, without a `default-backend` to fall back to) are replaced too; refusals by the policies (401, 403, 429) are not.",
    },
    'default-backend': {
      validate: serviceName,
      scope: 'location',
      risk: 'low',
      default: '`--default-backend-service`',
      doc: "A Service in the Ingress's namespace (its first port) that answers the `custom-http-errors` statuses, and that receives the route's requests (unchanged, after the policies) while the route's own Service has no ready endpoints.",
    },
  },
);

/** `CustomErrorsSettings` is the family's outcome, before the Service is resolved. */
export interface CustomErrorsSettings {
  readonly codes?: readonly number[];
  readonly backend?: FieldValue<string>;
}

/** `parseCustomErrors` returns what is set (an empty object when neither is). */
export function parseCustomErrors(reader: AnnotationReader): CustomErrorsSettings {
  const codes = reader.read(customErrorsAnnotations, 'custom-http-errors');
  const backend = reader.read(customErrorsAnnotations, 'default-backend');
  return {
    ...(codes !== undefined ? { codes: Object.freeze(codes.value) } : {}),
    ...(backend !== undefined ? { backend } : {}),
  };
}
