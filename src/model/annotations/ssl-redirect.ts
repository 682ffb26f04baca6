/**
 * `ssl-redirect` is the HTTP → HTTPS redirect family (ingress-nginx's `sslredirect` rows of its
 * `rewrite` package). The redirect itself happens in the data plane; these values only say whether.
 */
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean } from './validators.js';

export const sslRedirectAnnotations = defineAnnotations(
  'ssl-redirect',
  'Redirect plain-HTTP requests to HTTPS (308 by default, `--http-redirect-code` / ConfigMap `http-redirect-code`). Paths under `/.well-known/acme-challenge/` are never redirected.',
  {
    'ssl-redirect': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `ssl-redirect` (true)',
      doc: 'Redirect HTTP to HTTPS for this Ingress\'s routes on hosts listed in `spec.tls` of a served Ingress. `"false"` turns it off for this Ingress.',
    },
    'force-ssl-redirect': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `force-ssl-redirect` (false)',
      doc: "Redirect HTTP to HTTPS for this Ingress's routes even on hosts without TLS (e.g. TLS terminated by a load balancer in front).",
    },
  },
);

/** `SslRedirect` is what the family says; absent fields follow the ConfigMap. */
export interface SslRedirect {
  readonly sslRedirect?: boolean;
  readonly forceSslRedirect?: boolean;
}

export function parseSslRedirect(reader: AnnotationReader): SslRedirect {
  const redirect = reader.read(sslRedirectAnnotations, 'ssl-redirect');
  const force = reader.read(sslRedirectAnnotations, 'force-ssl-redirect');
  return {
    ...(redirect !== undefined ? { sslRedirect: redirect.value } : {}),
    ...(force !== undefined ? { forceSslRedirect: force.value } : {}),
  };
}
