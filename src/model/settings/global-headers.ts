/**
 * `global-headers` is the ConfigMap keys `add-headers` and `proxy-set-headers`: each names another
 * ConfigMap (`namespace/name`) whose data are headers — added to every response, respectively set
 * on every request sent upstream. The data-only replacement for most snippet use: values are
 * literal, never nginx variables. The keys are parsed with the other settings (`table.ts`); the
 * ConfigMaps they name are read by the controller (`resolveGlobalHeaders`) on every full run, so
 * an edit to them applies like any other change.
 */
import { type Diagnostic, objectLabel } from '../diagnostics.js';
import type { ConfigMap } from '../objects.js';
import { type HeaderList, headerList } from '../translate/response-shaping.js';
import type { GlobalSettings } from './types.js';
import type { Validator } from './validators.js';

/** `GlobalHeaderSettings` are the two references and, once the controller read them, their headers. */
export interface GlobalHeaderSettings {
  /** `add-headers`: `namespace/name` of a ConfigMap of response headers. */
  readonly addHeaders?: string;
  /** `proxy-set-headers`: `namespace/name` of a ConfigMap of upstream request headers. */
  readonly proxySetHeaders?: string;
  /** The `add-headers` ConfigMap's data, validated (absent while it is missing or invalid). */
  readonly response?: HeaderList;
  /** The `proxy-set-headers` ConfigMap's data, validated. */
  readonly request?: HeaderList;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `configMapRef` reads `namespace/name`, or `""` for none (ingress-nginx's default). */
export const configMapRef: Validator<string> = (raw) => {
  const v = raw.trim();
  if (v === '') return { ok: true, value: '' };
  const [namespace = '', name = '', ...rest] = v.split('/');
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return { ok: false, reason: 'must be namespace/name of a ConfigMap, e.g. ingress/custom-headers' };
  }
  return { ok: true, value: `${namespace}/${name}` };
};

/** `withHeaderRef` sets one reference (`""` clears it) and drops resolved headers it no longer matches. */
export function withHeaderRef(
  settings: GlobalSettings,
  key: 'addHeaders' | 'proxySetHeaders',
  ref: string,
): GlobalSettings {
  const { [key]: _old, ...rest } = settings.globalHeaders ?? {};
  const next: GlobalHeaderSettings = ref === '' ? rest : { ...rest, [key]: ref };
  if (Object.keys(next).length === 0) {
    const { globalHeaders: _dropped, ...without } = settings;
    return without;
  }
  return { ...settings, globalHeaders: next };
}

/**
 * `resolveGlobalHeaders` reads the ConfigMaps the settings name and fills `response` / `request`.
 * A missing ConfigMap or an invalid header is a warning on the settings ConfigMap's key (`object`)
 * and that list stays empty: the other settings and every route keep working.
 */
export function resolveGlobalHeaders(
  settings: GlobalSettings,
  getConfigMap: (namespace: string, name: string) => ConfigMap | undefined,
  object: string,
): { readonly settings: GlobalSettings; readonly diagnostics: readonly Diagnostic[] } {
  const refs = settings.globalHeaders;
  if (refs === undefined) return { settings, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  const read = (
    key: 'add-headers' | 'proxy-set-headers',
    ref: string | undefined,
  ): HeaderList | undefined => {
    if (ref === undefined) return undefined;
    const [namespace = '', name = ''] = ref.split('/');
    const warn = (message: string): void => {
      diagnostics.push({
        severity: 'warning',
        code: 'PORTICO_WARN_UNSUPPORTED',
        object,
        field: `data.${key}`,
        message,
      });
    };
    const cm = getConfigMap(namespace, name);
    if (cm === undefined) {
      warn(`${objectLabel('ConfigMap', namespace, name)} not found; no headers are set until it exists`);
      return undefined;
    }
    const list = headerList(cm.data, `${key}: ConfigMap ${ref}`);
    if (!list.ok) {
      warn(`${list.reason}; no headers from it are set`);
      return undefined;
    }
    return list.headers;
  };
  const response = read('add-headers', refs.addHeaders);
  const request = read('proxy-set-headers', refs.proxySetHeaders);
  const { response: _r, request: _q, ...rest } = refs;
  return {
    settings: {
      ...settings,
      globalHeaders: {
        ...rest,
        ...(response !== undefined && response.length > 0 ? { response } : {}),
        ...(request !== undefined && request.length > 0 ? { request } : {}),
      },
    },
    diagnostics,
  };
}

const HEADER_NAME = /^[A-Za-z0-9_-]+$/;

/** `headerNames` reads `global-allowed-response-headers`: comma-separated header names, or `""`. */
export const headerNames: Validator<readonly string[]> = (raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = items.filter((i) => !HEADER_NAME.test(i));
  if (bad.length > 0) {
    return {
      ok: false,
      reason: `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not a header name' : 'are not header names'} (letters, digits, "-" and "_")`,
    };
  }
  return { ok: true, value: items };
};

/** `withAllowedResponseHeaders` sets the list (empty: the key's default, so the field is dropped). */
export function withAllowedResponseHeaders(
  settings: GlobalSettings,
  names: readonly string[],
): GlobalSettings {
  if (names.length > 0) return { ...settings, allowedResponseHeaders: names };
  const { allowedResponseHeaders: _dropped, ...rest } = settings;
  return rest;
}
