/**
 * `custom-headers` names a ConfigMap whose data are response headers for the Ingress's routes
 * (ingress-nginx's `customheaders` package). Location scoped. The ConfigMap is read at translation
 * (`translate/response-shaping.ts`), so a change to it re-translates like any other object.
 */
import type { Parsed } from '../settings/validators.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { type Described, described } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `ConfigMapName` is a parsed ConfigMap reference, before the namespace rule is applied. */
export interface ConfigMapName {
  readonly namespace?: string;
  readonly name: string;
}

/** `configMapName` reads `name` or `namespace/name`. */
export const configMapName: Described<ConfigMapName> = described((raw) => {
  const v = raw.trim();
  const parts = v.split('/');
  if (parts.length > 2) return fail('must be "name" or "namespace/name"');
  const name = parts.length === 2 ? (parts[1] ?? '') : v;
  const namespace = parts.length === 2 ? parts[0] : undefined;
  if (namespace !== undefined && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    return fail(`namespace ${JSON.stringify(namespace)} is not a valid namespace name`);
  }
  if (name.length === 0 || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return fail(`${JSON.stringify(name)} is not a valid ConfigMap name`);
  }
  return ok(namespace === undefined ? { name } : { namespace, name });
}, 'ConfigMap: `name` or `namespace/name` (same namespace)');

export const customHeadersAnnotations = defineAnnotations(
  'custom-headers',
  "Response headers from a ConfigMap in the Ingress's namespace: every key is a header name, its value the header's value, set on every response of the Ingress's routes (replacing the backend's header of that name). Values are data: no `$variables`.",
  {
    'custom-headers': {
      validate: configMapName,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "The ConfigMap (`name`, or `namespace/name` with the Ingress's own namespace). Names must be tokens (`A-Z a-z 0-9 - _`) listed in the controller ConfigMap key `global-allowed-response-headers`, values printable without CR/LF. A missing ConfigMap, a name not allowed, a bad name or value, or a ConfigMap in another namespace makes the routes answer 503 (fail closed), as ingress-nginx denies the location.",
      differs:
        'Allowed names match case-insensitively. Values containing `$` are refused (nginx would expand them as variables); connection headers (Content-Length, Transfer-Encoding, …) cannot be set.',
    },
  },
);

/** `parseCustomHeaders` returns the ConfigMap reference, if set. */
export function parseCustomHeaders(reader: AnnotationReader): FieldValue<ConfigMapName> | undefined {
  return reader.read(customHeadersAnnotations, 'custom-headers');
}
