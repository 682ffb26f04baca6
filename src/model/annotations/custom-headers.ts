/**
 * `custom-headers` names a ConfigMap whose data are response headers for the Ingress's routes
 * (ingress-nginx's `customheaders` package). Location scoped. The ConfigMap is read at translation
 * (`translate/response-shaping.ts`), so a change to it re-translates like any other object.
 */
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { type Described, type ObjectName, objectName } from './validators.js';

/** `ConfigMapName` is a parsed ConfigMap reference, before the namespace rule is applied. */
export type ConfigMapName = ObjectName;

/** `configMapName` reads `name` or `namespace/name`. */
export const configMapName: Described<ConfigMapName> = objectName('ConfigMap', 'same namespace');

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
