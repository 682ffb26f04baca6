/**
 * `host-settings` applies host scope to `server-alias` and `from-to-www-redirect`: the oldest
 * Ingress of a host that sets a value supplies it for the whole host (ingress-nginx keeps the
 * first server-level value it meets, Ingresses sorted oldest first), and a younger Ingress of the
 * host with a different value is told its value is ignored; its paths still merge. Then the names
 * are checked against each other: an alias that is a rule host, or that an older host already
 * claims, is dropped, and a www redirect is made only for a name nobody serves.
 */
import type { IngressHostSettings } from '../annotations/registry.js';
import type { FieldValue } from '../annotations/spec.js';
import type { Diagnostic } from '../diagnostics.js';
import type { HostSettings, TlsBinding } from '../types.js';
import type { DiagnosticFactory } from './locate.js';

type SettingName = 'server-alias' | 'from-to-www-redirect';

interface Bound<T> {
  readonly value: T;
  readonly ingress: string;
  readonly field: string;
  readonly make: DiagnosticFactory;
}

interface HostEntry {
  aliases?: Bound<readonly string[]>;
  www?: Bound<boolean>;
}

const hostLabel = (host: string): string => (host === '' ? 'rules without host' : `host "${host}"`);
const aliasKey = (aliases: readonly string[]): string => [...aliases].sort().join(',');

/** `wwwCounterpart` is the name redirected to `host`: `www.<host>`, or `<host>` without `www.`. */
export function wwwCounterpart(host: string): string {
  return host.startsWith('www.') ? host.slice(4) : `www.${host}`;
}

/** `HostSettingsResult` is the host-scoped part of the model, and the TLS map with the extra names. */
export interface HostSettingsResult {
  readonly hostSettings: Map<string, HostSettings>;
  readonly tls: ReadonlyMap<string, TlsBinding>;
}

/**
 * `HostSettingsBinder` collects the values while translation walks the Ingresses oldest first
 * (`bind` once per rule), then `finish` resolves the names once every rule host is known.
 */
export class HostSettingsBinder {
  readonly #hosts = new Map<string, HostEntry>();
  readonly #warned = new Set<string>();

  /** `bind` offers one Ingress's values for one of its rule hosts. */
  bind(
    host: string,
    ingress: string,
    settings: IngressHostSettings | undefined,
    make: DiagnosticFactory,
    diagnostics: Diagnostic[],
  ): void {
    if (settings === undefined) return;
    let entry = this.#hosts.get(host);
    if (entry === undefined) {
      entry = {};
      this.#hosts.set(host, entry);
    }
    if (settings.aliases !== undefined) {
      entry.aliases = this.#offer(
        host,
        'server-alias',
        entry.aliases,
        settings.aliases,
        ingress,
        make,
        diagnostics,
        aliasKey,
      );
    }
    if (settings.fromToWww !== undefined) {
      entry.www = this.#offer(
        host,
        'from-to-www-redirect',
        entry.www,
        settings.fromToWww,
        ingress,
        make,
        diagnostics,
        String,
      );
    }
  }

  #offer<T>(
    host: string,
    name: SettingName,
    current: Bound<T> | undefined,
    offered: FieldValue<T>,
    ingress: string,
    make: DiagnosticFactory,
    diagnostics: Diagnostic[],
    keyOf: (value: T) => string,
  ): Bound<T> {
    if (current === undefined) return { value: offered.value, ingress, field: offered.field, make };
    const warning = `${host}\u0000${name}\u0000${ingress}`;
    if (
      current.ingress !== ingress &&
      keyOf(current.value) !== keyOf(offered.value) &&
      !this.#warned.has(warning)
    ) {
      this.#warned.add(warning);
      diagnostics.push(
        make(
          'warning',
          'PORTICO_WARN_HOST_ANNOTATION_IGNORED',
          offered.field,
          `${name} for ${hostLabel(host)} is ignored: Ingress ${current.ingress} (older) sets it to "${keyOf(current.value)}"`,
        ),
      );
    }
    return current;
  }

  /**
   * `finish` resolves aliases and www redirects against the rule hosts and each other, and gives
   * the extra names the certificate of their host (ingress-nginx serves an alias or a www name
   * with the host's certificate; the TLS table warns when it does not cover the name).
   */
  finish(
    ruleHosts: readonly string[],
    tls: ReadonlyMap<string, TlsBinding>,
    diagnostics: Diagnostic[],
  ): HostSettingsResult {
    const real = new Set(ruleHosts);
    const claimed = new Map<string, string>();
    const aliasesOf = new Map<string, string[]>();
    // Insertion order is age order: the first Ingress to bind a host is the oldest one.
    for (const [host, entry] of this.#hosts) {
      const bound = entry.aliases;
      if (bound === undefined) continue;
      if (host === '') {
        diagnostics.push(
          bound.make(
            'warning',
            'PORTICO_WARN_HOST_ANNOTATION_IGNORED',
            bound.field,
            'server-alias has no effect on rules without host: they already answer every host name without rules',
          ),
        );
        continue;
      }
      const kept: string[] = [];
      for (const alias of bound.value) {
        if (alias === host) continue;
        const owner = claimed.get(alias);
        let problem: string | undefined;
        if (real.has(alias)) problem = 'it is a rule host of its own';
        else if (owner !== undefined) problem = `it is already an alias of host "${owner}"`;
        if (problem !== undefined) {
          diagnostics.push(
            bound.make(
              'warning',
              'PORTICO_WARN_HOST_ANNOTATION_IGNORED',
              bound.field,
              `alias "${alias}" of host "${host}" is dropped: ${problem}`,
            ),
          );
          continue;
        }
        claimed.set(alias, host);
        kept.push(alias);
      }
      aliasesOf.set(host, kept);
    }

    const redirects = new Map<string, string>();
    for (const [host, entry] of this.#hosts) {
      const bound = entry.www;
      if (bound === undefined || !bound.value) continue;
      let problem: string | undefined;
      const from = host === '' || host.startsWith('*.') ? undefined : wwwCounterpart(host);
      if (from === undefined)
        problem = `it has no effect on ${host === '' ? 'rules without host' : 'a wildcard host'}`;
      else if (from === '' || from.startsWith('.')) problem = `"${host}" has no name to redirect from`;
      else if (real.has(from)) problem = `"${from}" is a rule host of its own`;
      else if (claimed.has(from)) problem = `"${from}" is an alias of host "${claimed.get(from)}"`;
      else if (redirects.has(from)) problem = `"${from}" already redirects to host "${redirects.get(from)}"`;
      if (problem !== undefined || from === undefined) {
        diagnostics.push(
          bound.make(
            'warning',
            'PORTICO_WARN_HOST_ANNOTATION_IGNORED',
            bound.field,
            `from-to-www-redirect for ${hostLabel(host)} makes no redirect: ${problem}`,
          ),
        );
        continue;
      }
      redirects.set(from, host);
    }

    const hostSettings = new Map<string, HostSettings>();
    const extraTls = new Map<string, TlsBinding>();
    const certificateOf = (host: string): TlsBinding | undefined => {
      const exact = tls.get(host);
      if (exact !== undefined) return exact;
      const dot = host.indexOf('.');
      return dot > 0 ? tls.get(`*${host.slice(dot)}`) : undefined;
    };
    const shareCertificate = (name: string, host: string): void => {
      const binding = certificateOf(host);
      if (binding !== undefined && !tls.has(name) && !extraTls.has(name)) extraTls.set(name, binding);
    };
    for (const [host, entry] of this.#hosts) {
      const aliases = aliasesOf.get(host) ?? [];
      const from = [...redirects].find(([, to]) => to === host)?.[0];
      const sources: Record<string, string> = {};
      if (entry.aliases !== undefined) sources['server-alias'] = entry.aliases.ingress;
      if (entry.www !== undefined) sources['from-to-www-redirect'] = entry.www.ingress;
      if (Object.keys(sources).length === 0) continue;
      for (const alias of aliases) shareCertificate(alias, host);
      if (from !== undefined) shareCertificate(from, host);
      hostSettings.set(
        host,
        Object.freeze({
          ...(aliases.length > 0 ? { aliases: Object.freeze(aliases) } : {}),
          ...(entry.www !== undefined ? { fromToWwwRedirect: entry.www.value } : {}),
          ...(from !== undefined ? { redirectFrom: from } : {}),
          sources: Object.freeze(sources),
        }),
      );
    }
    if (extraTls.size === 0) return { hostSettings, tls };
    return { hostSettings, tls: new Map([...tls, ...extraTls]) };
  }
}
