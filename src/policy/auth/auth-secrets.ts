/**
 * `auth-secrets` reads the users of the Secrets `auth-secret` names: which Ingresses use which
 * Secret (and how: `auth-file` or `auth-map`), and the parsed users of each version. A missing
 * Secret, or one without a usable user, fails closed where it is used (the routes answer 503),
 * never opens; lines that cannot be checked lock out their user only and are warned about.
 * Pure: the controller hands in the Secrets and publishes the result with the TLS table.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../../model/diagnostics.js';
import type { Secret } from '../../model/objects.js';
import type { BasicAuthPolicy, RoutePolicy, RoutingModel } from '../../model/types.js';
import { type Htpasswd, parseAuthMap, parseHtpasswd } from './htpasswd.js';

/** `AUTH_FILE_KEY` is the Secret key holding an htpasswd file (ingress-nginx's `auth`). */
export const AUTH_FILE_KEY = 'auth';

/** `AuthSecretCheck` is one Secret read one way. */
export type AuthSecretCheck =
  | { readonly ok: true; readonly users: Htpasswd; readonly fingerprint: string }
  | { readonly ok: false; readonly reason: string };

/** `authSecretKey` names one (Secret, reading) pair in the published table. */
export function authSecretKey(policy: Pick<BasicAuthPolicy, 'secret' | 'secretType'>): string | undefined {
  const s = policy.secret;
  return s === undefined ? undefined : `${policy.secretType}:${s.namespace}/${s.name}`;
}

/** `AuthSecretUse` is one Ingress field that uses an auth Secret. */
export interface AuthSecretUse {
  readonly ingress: string;
  readonly field: string;
  readonly namespace: string;
  readonly name: string;
  readonly secretType: BasicAuthPolicy['secretType'];
}

/** `authSecretUses` lists, per `authSecretKey`, every Ingress whose served routes use it. */
export function authSecretUses(model: RoutingModel): Map<string, AuthSecretUse[]> {
  const out = new Map<string, AuthSecretUse[]>();
  const add = (policy: RoutePolicy | undefined, ingress: string): void => {
    const auth = policy?.basicAuth;
    if (auth?.secret === undefined || auth.deny !== undefined) return;
    const key = authSecretKey(auth) as string;
    const list = out.get(key) ?? [];
    if (!list.some((u) => u.ingress === ingress)) {
      list.push({
        ingress,
        field: auth.field,
        namespace: auth.secret.namespace,
        name: auth.secret.name,
        secretType: auth.secretType,
      });
    }
    out.set(key, list);
  };
  for (const route of model.routes) add(route.policy, route.ingress);
  for (const binding of model.hostDefaults.values()) add(binding.policy, binding.ingress);
  if (model.catchAll !== undefined) add(model.catchAll.policy, model.catchAll.ingress);
  return out;
}

function decoded(secret: Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    if (typeof v === 'string') out[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  for (const [k, v] of Object.entries(secret.stringData ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

/** `checkAuthSecret` parses one Secret the way `secretType` says. */
export function checkAuthSecret(
  secret: Secret | undefined,
  secretType: BasicAuthPolicy['secretType'],
): AuthSecretCheck {
  if (secret === undefined) return { ok: false, reason: 'Secret not found' };
  const data = decoded(secret);
  let users: Htpasswd;
  if (secretType === 'auth-file') {
    const file = data[AUTH_FILE_KEY];
    if (file === undefined)
      return { ok: false, reason: `no "${AUTH_FILE_KEY}" key (auth-secret-type auth-file)` };
    users = parseHtpasswd(file);
  } else {
    users = parseAuthMap(data);
  }
  if (users.users.size === 0) {
    const first = users.problems[0];
    return {
      ok: false,
      reason: `no usable user${first === undefined ? '' : ` (${describeProblem(first)})`}`,
    };
  }
  const hash = createHash('sha256');
  for (const [user, verifier] of [...users.users].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(user).update('\0').update(verifier.hash).update('\n');
  }
  return { ok: true, users, fingerprint: hash.digest('hex') };
}

function describeProblem(p: Htpasswd['problems'][number]): string {
  const where = p.line !== undefined ? `line ${p.line}` : `key ${JSON.stringify(p.key ?? '')}`;
  return `${where}: ${p.reason}`;
}

/**
 * `AuthSecretTable` checks each Secret once per version (the store keeps an object's identity until
 * it changes) and reports failures and skipped lines per Ingress that uses the Secret.
 */
export class AuthSecretTable {
  #cache = new Map<string, { readonly secret: Secret | undefined; readonly check: AuthSecretCheck }>();

  build(
    uses: ReadonlyMap<string, readonly AuthSecretUse[]>,
    lookup: (namespace: string, name: string) => Secret | undefined,
    diagnostics: Diagnostic[],
  ): Map<string, AuthSecretCheck> {
    const next = new Map<string, { readonly secret: Secret | undefined; readonly check: AuthSecretCheck }>();
    const out = new Map<string, AuthSecretCheck>();
    for (const [key, list] of uses) {
      const first = list[0];
      if (first === undefined) continue;
      const secret = lookup(first.namespace, first.name);
      const cached = this.#cache.get(key);
      const entry =
        cached !== undefined && cached.secret === secret
          ? cached
          : { secret, check: checkAuthSecret(secret, first.secretType) };
      next.set(key, entry);
      out.set(key, entry.check);
      const name = `Secret ${first.namespace}/${first.name}`;
      for (const use of list) {
        if (!entry.check.ok) {
          diagnostics.push({
            severity: 'warning',
            code: 'PORTICO_WARN_AUTH_SECRET_INVALID',
            object: `Ingress ${use.ingress}`,
            field: use.field,
            message: `${name} cannot be used for Basic authentication: ${entry.check.reason}; its routes answer 503`,
          });
        } else if (entry.check.users.problems.length > 0) {
          const skipped = entry.check.users.problems.map(describeProblem).join('; ');
          diagnostics.push({
            severity: 'warning',
            code: 'PORTICO_WARN_AUTH_SECRET_INVALID',
            object: `Ingress ${use.ingress}`,
            field: use.field,
            message: `${name}: entries left out (their users cannot log in): ${skipped}`,
          });
        }
      }
    }
    this.#cache = next;
    return out;
  }
}
