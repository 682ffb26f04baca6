/**
 * `l4TranslateOptionsFor` turns the process configuration into the options of the L4 translation
 * (src/l4/translate.ts), for every caller alike: `portico l4-rules`, the L4Route status writer, and
 * the runtime that applies the result.
 */

import { familyOf, type L4PortRedirect } from '../l4/model.js';
import { L4Runtime } from '../l4/runtime.js';
import type { L4Mode, L4TranslateOptions } from '../l4/translate.js';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { ObjectStore } from '../store/object-store.js';
import type { PorticoConfig } from './flags.js';

/**
 * `reservedPorts` are the TCP ports Portico's own listeners hold (0 = any free port: none), and
 * the node ports `--redirect-privileged-ports` sends to them.
 */
export function reservedPorts(config: Pick<PorticoConfig, 'proxy' | 'l4'>): Map<number, string> {
  const out = new Map<number, string>();
  const add = (port: number, flag: string): void => {
    if (port !== 0 && !out.has(port)) out.set(port, flag);
  };
  add(config.proxy.httpPort, '--http-port');
  add(config.proxy.httpsPort, '--https-port');
  add(config.proxy.adminPort, '--admin-port');
  for (const r of privilegedPortRedirects(config)) add(r.port, '--redirect-privileged-ports');
  return out;
}

/**
 * `privilegedPortRedirects` are the node ports `--redirect-privileged-ports` sends to the HTTP
 * listeners: 80 → --http-port, 443 → --https-port. A pair is left out when the listener already is
 * on that port (nothing to redirect) or on 0 (any free port: unknown until it listens).
 */
export function privilegedPortRedirects(config: Pick<PorticoConfig, 'proxy' | 'l4'>): L4PortRedirect[] {
  if (config.l4.redirectPrivilegedPorts !== true) return [];
  const pairs: L4PortRedirect[] = [
    { port: 80, toPort: config.proxy.httpPort },
    { port: 443, toPort: config.proxy.httpsPort },
  ];
  return pairs.filter((r) => r.toPort !== 0 && r.toPort !== r.port);
}

export function l4TranslateOptionsFor(
  config: Pick<PorticoConfig, 'proxy' | 'l4'>,
  mode: L4Mode = config.l4.mode,
): L4TranslateOptions {
  const { nodeIp, tcpServicesConfigMap, udpServicesConfigMap } = config.l4;
  // One family per iptables/IPVS payload: the node address's (IPv4 without one). nft's inet
  // table and user space take both.
  const ipFamily =
    mode === 'iptables' || mode === 'ipvs'
      ? ((nodeIp !== undefined ? familyOf(nodeIp) : undefined) ?? 'IPv4')
      : undefined;
  return {
    mode,
    ...(tcpServicesConfigMap !== undefined ? { tcpServicesConfigMap } : {}),
    ...(udpServicesConfigMap !== undefined ? { udpServicesConfigMap } : {}),
    ...(nodeIp !== undefined ? { nodeIp } : {}),
    ...(ipFamily !== undefined ? { ipFamily } : {}),
    portRedirects: privilegedPortRedirects(config),
    reservedPorts: reservedPorts(config),
  };
}

/**
 * `l4RuntimeFor` starts the L4 path of a serving process (user space, or the kernel sync loop);
 * with `metrics`, its rejected routes and entries count in `portico_config_rejected_objects`.
 */
export function l4RuntimeFor(
  config: PorticoConfig,
  store: ObjectStore,
  logger: Logger,
  metrics?: PorticoMetrics,
): L4Runtime {
  return new L4Runtime({
    ...(metrics !== undefined ? { metrics } : {}),
    store,
    translate: l4TranslateOptionsFor(config),
    logger,
    bindAddress: config.proxy.bindAddress,
    cleanupOnExit: config.l4.cleanupOnExit,
    fullSyncPeriodMs: config.l4.fullSyncPeriodMs,
  });
}
