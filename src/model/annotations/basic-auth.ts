/**
 * `basic-auth` is HTTP Basic authentication against an htpasswd Secret (ingress-nginx's `auth`
 * package). Location scoped. The request-time half is `policy/auth/basic.ts`; the Secret's
 * contents are parsed by `policy/auth/htpasswd.ts` when the Secret is read.
 */
import type { BasicAuthPolicy } from '../types.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described, oneOf, secretName } from './validators.js';

/** `AuthSecretType` is how the Secret holds the users (`auth-secret-type`). */
export type AuthSecretType = 'auth-file' | 'auth-map';

/**
 * ingress-nginx's default realm is empty (`auth_basic ""`, so `WWW-Authenticate: Basic realm=""`);
 * its docs' "Authentication Required - foo" is only an example value. Kept for parity.
 */
export const DEFAULT_REALM = '';

const MAX_REALM = 256;

/**
 * `realm` reads `auth-realm`. It is written into `WWW-Authenticate: Basic realm="…"` as a quoted
 * string, so quotes, backslashes and control characters (CR/LF would split the header) are
 * refused, and so is non-ASCII (Node refuses header values outside Latin-1, and Latin-1 realms
 * are read differently by different browsers). ingress-nginx allows a smaller set (letters,
 * digits, spaces and a few punctuation marks); everything it allows is accepted here.
 */
export const realm: Described<string> = described((raw) => {
  if (raw.length > MAX_REALM) return { ok: false, reason: `must be at most ${MAX_REALM} characters` };
  for (const ch of raw) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') return { ok: false, reason: 'must not contain quotes or backslashes' };
    if (c < 0x20 || c === 0x7f)
      return { ok: false, reason: 'must not contain control characters (CR, LF, tab…)' };
    if (c > 0x7e) return { ok: false, reason: 'must be printable ASCII' };
  }
  return { ok: true, value: raw };
}, 'printable ASCII without `"` or `\\`, at most 256 characters');

export const basicAuthAnnotations = defineAnnotations(
  'basic-auth',
  'HTTP Basic authentication against users in a Secret (htpasswd format: bcrypt `$2y$`/`$2a$`/`$2b$`, `$apr1$` MD5, `{SHA}`). Requests without valid credentials answer 401 with `WWW-Authenticate: Basic realm="…"`.',
  {
    'auth-type': {
      validate: oneOf(['basic'], {
        refused: {
          digest:
            '"digest" is not supported (RFC 7616 digest with MD5 is weaker than Basic over TLS); use "basic" over HTTPS',
        },
      }),
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: "`basic` turns authentication on for this Ingress's routes; `auth-secret` must be set too.",
      differs: '`digest` is refused (the Ingress is rejected) instead of supported.',
    },
    'auth-secret': {
      validate: secretName,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "Secret (`name` or `namespace/name`, in the Ingress's namespace) with the users; `auth-type` must be set too.",
      differs:
        "Only the Ingress's own namespace is allowed (a cross-namespace reference fails closed: 503), as ingress-nginx without `allow-cross-namespace-resources`. Without `auth-type`, the Ingress is rejected (ingress-nginx silently serves it without authentication).",
    },
    'auth-secret-type': {
      validate: oneOf<AuthSecretType>(['auth-file', 'auth-map']),
      scope: 'location',
      risk: 'low',
      default: 'auth-file',
      doc: "`auth-file`: the Secret's `auth` key is an htpasswd file (`user:hash` lines); `auth-map`: each key of the Secret is a user and its value the hash.",
    },
    'auth-realm': {
      validate: realm,
      scope: 'location',
      risk: 'medium',
      default: '"" (empty realm)',
      doc: 'Realm sent in the `WWW-Authenticate` challenge; browsers show it in the login prompt.',
    },
    'auth-pass-credentials': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: forward the client\'s `Authorization` header to the backend after a successful check. By default it is removed, so backends never see the password.',
      differs: 'ingress-nginx always forwards `Authorization`; Portico strips it unless this is `"true"`.',
      prefixes: ['portico.dev'],
    },
  },
);

/** `BasicAuthConfig` is the family's outcome for one Ingress (the model's `BasicAuthPolicy`). */
export type BasicAuthConfig = BasicAuthPolicy;

/**
 * `parseBasicAuth` returns the Ingress's Basic authentication, undefined when neither `auth-type`
 * nor `auth-secret` is set. One without the other is invalid: `auth-type` alone has no users, and
 * `auth-secret` alone would leave routes open that their author meant to protect.
 */
export function parseBasicAuth(reader: AnnotationReader): BasicAuthConfig | undefined {
  const type = reader.read(basicAuthAnnotations, 'auth-type');
  const secret = reader.read(basicAuthAnnotations, 'auth-secret');
  const secretType = reader.read(basicAuthAnnotations, 'auth-secret-type');
  const realmValue = reader.read(basicAuthAnnotations, 'auth-realm');
  const pass = reader.read(basicAuthAnnotations, 'auth-pass-credentials');
  if (type === undefined && secret === undefined) return undefined;
  if (type === undefined) {
    reader.problem(
      secret!.field,
      'needs auth-type: "basic" (without it these routes would be served without authentication)',
    );
    return undefined;
  }
  if (secret === undefined) {
    reader.problem(type.field, '"basic" needs auth-secret: the Secret with the users (htpasswd)');
    return undefined;
  }
  const ns = secret.value.namespace ?? reader.namespace;
  const common = {
    secretType: secretType?.value ?? 'auth-file',
    realm: realmValue?.value ?? DEFAULT_REALM,
    passCredentials: pass?.value ?? false,
    field: secret.field,
  } as const;
  if (ns !== reader.namespace) {
    return {
      ...common,
      deny: `${secret.key}: Secret ${ns}/${secret.value.name} is in another namespace; only Secrets in ${reader.namespace} may be used`,
    };
  }
  return { ...common, secret: { namespace: ns, name: secret.value.name } };
}
