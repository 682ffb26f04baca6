/**
 * `global-auth` is ingress-nginx's `global-auth-*` ConfigMap keys: external authentication for the
 * routes of every Ingress that has no `auth-url` of its own and does not opt out with
 * `enable-global-auth: "false"`, except paths under `no-auth-locations`.
 *
 * Each key is validated on its own by the `auth-*` annotation's validator and kept as text; the
 * policy is built from them in one place (`globalAuthPolicy`) by the same parser the annotations
 * use, so a global check behaves exactly like the per-Ingress one.
 */
import { externalAuthAnnotations, readExternalAuth } from '../annotations/external-auth.js';
import { AnnotationReader } from '../annotations/spec.js';
import type { ExternalAuthPolicy } from '../types.js';
import type { GlobalSettings } from './types.js';
import type { Parsed, Validator } from './validators.js';

/** The `global-auth-*` keys and the `auth-*` annotation each stands for. */
export const GLOBAL_AUTH_KEYS = {
  'global-auth-url': 'auth-url',
  'global-auth-method': 'auth-method',
  'global-auth-signin': 'auth-signin',
  'global-auth-signin-redirect-param': 'auth-signin-redirect-param',
  'global-auth-response-headers': 'auth-response-headers',
  'global-auth-request-redirect': 'auth-request-redirect',
  'global-auth-cache-key': 'auth-cache-key',
  'global-auth-cache-duration': 'auth-cache-duration',
  'global-auth-always-set-cookie': 'auth-always-set-cookie',
} as const;

export type GlobalAuthKey = keyof typeof GLOBAL_AUTH_KEYS;

/** `GlobalAuthSettings` are the keys that are set, as validated text. */
export type GlobalAuthSettings = Readonly<Partial<Record<GlobalAuthKey, string>>>;

/** `globalAuthValidator` checks a key with its annotation's validator; empty means unset. */
export function globalAuthValidator(key: GlobalAuthKey): Validator<string> {
  const spec = externalAuthAnnotations.specs[GLOBAL_AUTH_KEYS[key]];
  return (raw): Parsed<string> => {
    const value = raw.trim();
    if (value === '') return { ok: true, value: '' };
    const parsed = spec.validate(value);
    return parsed.ok ? { ok: true, value } : parsed;
  };
}

/** `withGlobalAuthKey` sets one key's text (empty drops it). */
export function withGlobalAuthKey(
  settings: GlobalSettings,
  key: GlobalAuthKey,
  value: string,
): GlobalSettings {
  const { [key]: _dropped, ...keys } = settings.globalAuth ?? {};
  const next: GlobalAuthSettings = value === '' ? keys : { ...keys, [key]: value };
  const { globalAuth: _old, ...rest } = settings;
  return Object.keys(next).length > 0 ? { ...rest, globalAuth: next } : rest;
}

/** `DEFAULT_NO_AUTH_LOCATIONS` is ingress-nginx's `no-auth-locations` default: ACME HTTP-01 challenges. */
export const DEFAULT_NO_AUTH_LOCATIONS: readonly string[] = ['/.well-known/acme-challenge'];

function hasSpaceOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** `noAuthLocations` reads comma-separated path prefixes (each starting with `/`); empty: none. */
export const noAuthLocations: Validator<readonly string[]> = (raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = items.filter((i) => !i.startsWith('/') || hasSpaceOrControl(i));
  if (bad.length > 0) {
    return {
      ok: false,
      reason: `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not a path' : 'are not paths'} (each starts with "/", no spaces)`,
    };
  }
  return { ok: true, value: [...new Set(items)] };
};

/** `GlobalAuthOutcome` is the global policy (absent without `global-auth-url`) and problems across keys. */
export interface GlobalAuthOutcome {
  readonly policy?: ExternalAuthPolicy;
  /** `{ key, message }`, e.g. a cache duration without a cache key. */
  readonly problems: readonly { readonly key: GlobalAuthKey; readonly message: string }[];
}

/**
 * `globalAuthPolicy` builds the policy of the `global-auth-*` keys with the annotations' parser, as
 * if one Ingress carried the matching `auth-*` annotations. Pure.
 */
export function globalAuthPolicy(settings: GlobalAuthSettings | undefined): GlobalAuthOutcome {
  if (settings?.['global-auth-url'] === undefined) return { problems: [] };
  const annotations: Record<string, string> = {};
  const keyOf = new Map<string, GlobalAuthKey>();
  for (const [key, annotation] of Object.entries(GLOBAL_AUTH_KEYS) as [GlobalAuthKey, string][]) {
    const value = settings[key];
    if (value === undefined) continue;
    annotations[`nginx.ingress.kubernetes.io/${annotation}`] = value;
    keyOf.set(`metadata.annotations["nginx.ingress.kubernetes.io/${annotation}"]`, key);
  }
  const reader = new AnnotationReader(annotations, 'default');
  const { policy } = readExternalAuth(reader);
  const problems = reader.problems.map((p) => ({
    key: keyOf.get(p.field) ?? 'global-auth-url',
    message: p.message.replaceAll(/\bauth-(?=[a-z])/g, 'global-auth-'),
  }));
  return policy === undefined ? { problems } : { policy, problems };
}
