/**
 * `parse` turns a ConfigMap's `data` into the effective global settings: ConfigMap over flag
 * defaults, key by key, through the table. A bad value never blocks the rest: that key keeps its
 * previous good value (or the flag default) and a diagnostic says why.
 */
import { type Diagnostic, objectLabel } from '../diagnostics.js';
import { type SettingsPatch, type SupportedSetting, settingRow } from './table.js';
import type { GlobalSettings } from './types.js';

/** `GoodValue` is a key's last value that parsed, with the patch that applies it. */
export interface GoodValue {
  readonly raw: string;
  readonly patch: SettingsPatch;
}

/** `GoodValues` maps supported keys to their last good value; the controller keeps it between runs. */
export type GoodValues = ReadonlyMap<string, GoodValue>;

export interface ParseSettingsOptions {
  /** The ConfigMap the data came from, for diagnostics. */
  readonly configMap: { readonly namespace: string; readonly name: string };
  /** Last good values from the previous parse of the same ConfigMap. */
  readonly previous?: GoodValues;
  /** Maps a field (`data.<key>`) to `file:line:column` (file mode). */
  readonly locate?: (field: string) => string | undefined;
}

/** `SettingsResult` is the outcome of `parseConfigMapSettings`. */
export interface SettingsResult {
  readonly settings: GlobalSettings;
  /** Sorted by key; empty when every key is supported and valid. */
  readonly diagnostics: readonly Diagnostic[];
  /** Pass back as `previous` next time, so an invalid edit keeps the value that was good. */
  readonly good: GoodValues;
}

/**
 * `parseConfigMapSettings` applies `data` over `base` (the flag defaults). Supported keys take
 * effect; planned ones (ingress-nginx features Portico does not have yet) and unknown ones are
 * reported as warnings and ignored; an invalid value is an error for that key only.
 */
export function parseConfigMapSettings(
  data: Readonly<Record<string, string>> | undefined,
  base: GlobalSettings,
  options: ParseSettingsOptions,
): SettingsResult {
  const object = objectLabel('ConfigMap', options.configMap.namespace, options.configMap.name);
  const diagnostics: Diagnostic[] = [];
  const good = new Map<string, GoodValue>();
  let settings = base;
  const entries = Object.entries(data ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, raw] of entries) {
    const field = `data.${key}`;
    const report = (severity: Diagnostic['severity'], message: string): void => {
      const source = options.locate?.(field);
      diagnostics.push({
        severity,
        code: severity === 'error' ? 'PORTICO_ERR_OBJECT_INVALID' : 'PORTICO_WARN_UNSUPPORTED',
        object,
        field,
        message,
        ...(source !== undefined ? { source } : {}),
      });
    };
    // A ConfigMap's data is a string map, but file mode reads user YAML: `keep-alive: 75` is a number.
    const value = typeof raw === 'string' ? raw : String(raw);
    const row = settingRow(key);
    if (row === undefined) {
      const near = settingRow(key.toLowerCase().replaceAll('_', '-'));
      const hint = near === undefined ? '' : ` (did you mean ${key.toLowerCase().replaceAll('_', '-')}?)`;
      report('warning', `unknown key${hint}; ignored (value ${JSON.stringify(value)})`);
      continue;
    }
    if (row.status === 'planned') {
      report('warning', `ingress-nginx setting not supported yet; ignored (value ${JSON.stringify(value)})`);
      continue;
    }
    const parsed = row.parse(value);
    if (parsed.ok) {
      good.set(key, { raw: value, patch: parsed.value });
      settings = parsed.value(settings);
      continue;
    }
    const kept = options.previous?.get(key);
    if (kept !== undefined) {
      good.set(key, kept);
      settings = kept.patch(settings);
    }
    report(
      'error',
      `invalid value ${JSON.stringify(value)}: ${parsed.reason}; keeping ${describeKept(row, kept, base)}`,
    );
  }
  return { settings, diagnostics, good };
}

function describeKept(row: SupportedSetting, kept: GoodValue | undefined, base: GlobalSettings): string {
  // Lists whose default is empty render as nothing: say so in words.
  const shown = (text: string): string => (text === '' ? '(none)' : text);
  if (kept === undefined) return `the default ${shown(row.show(base))}`;
  return `the previous value ${shown(row.show(kept.patch(base)))}`;
}
