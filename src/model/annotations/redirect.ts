/**
 * `redirect` is ingress-nginx's `redirect` package plus `preserve-trailing-slash`: a route that
 * answers with a fixed redirect instead of proxying (`permanent-redirect`, `temporal-redirect`),
 * the host-scoped `www.<host>` ⇄ `<host>` redirect, and whether the HTTPS redirect keeps a
 * trailing slash. The redirects themselves happen in the data plane (src/proxy/route-redirect.ts).
 */
import type { RouteRedirect, RouteRedirectStatus } from '../types.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { boolean, redirectUrl, statusInteger } from './validators.js';

/** `REDIRECT_STATUSES` are the codes a route redirect answers with: those that carry a Location. */
export const REDIRECT_STATUSES: readonly RouteRedirectStatus[] = [301, 302, 303, 307, 308];

const CODE_DIFFERS =
  'Only 301, 302, 303, 307 and 308 are used; any other integer falls back to the default with a warning (PORTICO_WARN_ANNOTATION_IGNORED). ingress-nginx falls back silently, and answers 300, 304, 305 and 306 as plain statuses without a Location.';

const URL_DIFFERS =
  'Any absolute http(s) URL that is valid RFC 3986 is accepted (ingress-nginx allows only letters, digits and `-._~/:?&=`); nginx variables such as `$request_uri` are refused by name, never expanded.';

export const redirectAnnotations = defineAnnotations(
  'redirect',
  "Answer with a redirect instead of proxying. The redirect is the route's first step, as ingress-nginx's `return` runs in nginx's rewrite phase: before the HTTPS redirect, IP lists, rate limits and authentication (only a host's client-certificate check on HTTPS comes first). The backend is never contacted.",
  {
    'permanent-redirect': {
      validate: redirectUrl,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "Every request of this Ingress's routes is answered with a redirect to this URL (the Location is the URL as written; the request path is not appended).",
      differs: URL_DIFFERS,
    },
    'permanent-redirect-code': {
      validate: statusInteger,
      scope: 'location',
      risk: 'low',
      default: '301',
      doc: 'Status of the `permanent-redirect` answer.',
      differs: CODE_DIFFERS,
    },
    'temporal-redirect': {
      validate: redirectUrl,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: 'Like `permanent-redirect`, with status 302. When both are set, `temporal-redirect` wins (as in ingress-nginx) and `permanent-redirect` is reported as ignored.',
      differs: URL_DIFFERS,
    },
    'temporal-redirect-code': {
      validate: statusInteger,
      scope: 'location',
      risk: 'low',
      default: '302',
      doc: 'Status of the `temporal-redirect` answer.',
      differs: CODE_DIFFERS,
    },
    'from-to-www-redirect': {
      validate: boolean,
      scope: 'host',
      risk: 'low',
      default: 'false',
      doc: "Requests for `www.<host>` are redirected to `<host>` (or `<host>` to `www.<host>` when the rule host starts with `www.`), keeping scheme, path and query; status: ConfigMap `http-redirect-code` (308). Only when the other name is not a host of any rule (nor a `server-alias`). On HTTPS the other name is served with the host's certificate, which must cover it.",
      differs:
        'The oldest Ingress of the host that sets it decides (ingress-nginx: any Ingress of the host turning it on). The path keeps its trailing slash (ingress-nginx drops one), a trusted `X-Forwarded-Proto: https` keeps the redirect on https, and a plain-HTTP redirect never carries the HTTPS port.',
    },
    'preserve-trailing-slash': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'true',
      doc: '`"false"` drops one trailing `/` from the HTTP → HTTPS redirect of these routes (`/docs/` → `https://host/docs`, `/` → `https://host`), as ingress-nginx does by default.',
      differs:
        'Portico keeps the trailing slash by default (ingress-nginx drops it unless this is `"true"`): `"true"` changes nothing, `"false"` restores ingress-nginx\'s default.',
    },
  },
);

/** `RedirectSettings` is what the family says about one Ingress. */
export interface RedirectSettings {
  readonly redirect?: RouteRedirect;
  readonly preserveTrailingSlash?: boolean;
  /** Host scoped: bound per host by translation (oldest Ingress that sets it wins). */
  readonly fromToWww?: FieldValue<boolean>;
}

type UrlName = 'permanent-redirect' | 'temporal-redirect';
type CodeName = 'permanent-redirect-code' | 'temporal-redirect-code';

/** `readRedirect` reads one of the two redirects: its URL, and its code with the fallbacks. */
function readRedirect(
  reader: AnnotationReader,
  urlName: UrlName,
  codeName: CodeName,
  fallback: RouteRedirectStatus,
): { readonly redirect: RouteRedirect; readonly field: string } | undefined {
  const url = reader.read(redirectAnnotations, urlName);
  const code = reader.read(redirectAnnotations, codeName);
  if (url !== undefined && url.value === '') reader.warning(url.field, `${url.key} is empty: no redirect`);
  if (url === undefined || url.value === '') {
    if (code !== undefined) reader.warning(code.field, `${code.key} has no effect without ${urlName}`);
    return undefined;
  }
  let status = fallback;
  if (code !== undefined) {
    const hit = REDIRECT_STATUSES.find((s) => s === code.value);
    if (hit !== undefined) status = hit;
    else {
      reader.warning(
        code.field,
        `${code.value} is not a redirect status (${REDIRECT_STATUSES.join(', ')}); the redirect answers ${fallback}`,
      );
    }
  }
  return { redirect: Object.freeze({ location: url.value, status }), field: url.field };
}

/** `parseRedirect` reads the family; precedence between the two redirects is ingress-nginx's. */
export function parseRedirect(reader: AnnotationReader): RedirectSettings {
  const temporal = readRedirect(reader, 'temporal-redirect', 'temporal-redirect-code', 302);
  const permanent = readRedirect(reader, 'permanent-redirect', 'permanent-redirect-code', 301);
  if (temporal !== undefined && permanent !== undefined) {
    reader.warning(
      permanent.field,
      'permanent-redirect is ignored: temporal-redirect is set too and wins, as in ingress-nginx',
    );
  }
  const redirect = (temporal ?? permanent)?.redirect;
  const preserve = reader.read(redirectAnnotations, 'preserve-trailing-slash');
  const www = reader.read(redirectAnnotations, 'from-to-www-redirect');
  return {
    ...(redirect !== undefined ? { redirect } : {}),
    ...(preserve !== undefined ? { preserveTrailingSlash: preserve.value } : {}),
    ...(www !== undefined ? { fromToWww: www } : {}),
  };
}
