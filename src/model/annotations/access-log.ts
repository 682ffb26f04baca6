/**
 * `access-log` switches the access log per Ingress (ingress-nginx's `log` package).
 */
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean } from './validators.js';

export const accessLogAnnotations = defineAnnotations(
  'access-log',
  'Per-Ingress switch of the access log (one JSON line per request, `--access-log`).',
  {
    'enable-access-log': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `disable-access-log` (false: on)',
      doc: '`"false"`: requests answered by this Ingress\'s routes write no access log line.',
    },
  },
);

/** `parseAccessLog` returns false when this Ingress turns its lines off, else undefined. */
export function parseAccessLog(reader: AnnotationReader): false | undefined {
  return reader.read(accessLogAnnotations, 'enable-access-log')?.value === false ? false : undefined;
}
