/**
 * `server-alias` is ingress-nginx's `alias` package: more host names served exactly like the
 * Ingress's rule hosts. Host scoped: the oldest Ingress of a host that sets it supplies the host's
 * aliases (src/model/translate/host-settings.ts).
 */
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { hostNameList } from './validators.js';

export const serverAliasAnnotations = defineAnnotations(
  'server-alias',
  'Serve more host names exactly like the rule hosts of the Ingress (same paths, fallbacks, TLS-host redirects and client-certificate checks).',
  {
    'server-alias': {
      validate: hostNameList,
      scope: 'host',
      risk: 'high',
      default: '(none)',
      doc: "Comma-separated host names, each served like every rule host of this Ingress. An alias that is also a rule host of any served Ingress is dropped with a warning (as ingress-nginx does), as is one another host already claims. On HTTPS an alias is served with its host's certificate, which must cover it.",
      differs:
        'nginx regular-expression names (`~^…`) are refused. The oldest Ingress of the host that sets it decides, and a younger one with different aliases is warned (ingress-nginx logs it); an alias two hosts claim goes to the one whose Ingress is older (nginx: whichever server block comes first).',
    },
  },
);

/** `parseServerAlias` returns the Ingress's aliases, undefined when none are set. */
export function parseServerAlias(reader: AnnotationReader): FieldValue<readonly string[]> | undefined {
  const aliases = reader.read(serverAliasAnnotations, 'server-alias');
  if (aliases === undefined || aliases.value.length === 0) return undefined;
  return aliases;
}
