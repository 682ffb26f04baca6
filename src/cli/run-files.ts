/**
 * `run-files` wires file mode: manifests folder → `FileSource` → `Controller` → data plane, then
 * serves until SIGTERM/SIGINT.
 */
import { stat } from 'node:fs/promises';
import type { ProxyOptions } from '../config/types.js';
import { Controller, type RouteSink } from '../controller/loop.js';
import { FileSource } from '../files/source.js';
import type { L4Report } from '../l4/runtime.js';
import type { Logger } from '../log/logger.js';
import { PorticoMetrics } from '../metrics/registry.js';
import { controllerOptionsFor } from './controller-options.js';
import type { PorticoConfig } from './flags.js';
import { l4RuntimeFor } from './l4-options.js';

/** `FileModeDataPlane` is what file mode needs from the data plane (`src/proxy/data-plane.ts`). */
export interface FileModeDataPlane extends RouteSink {
  listen(): Promise<{ http: number; https?: number; admin: number }>;
  shutdown(): Promise<void>;
  /** Live count of ready replicas for shared rate limits (cluster mode, `--publish-service`). */
  setReplicaCounter?(count: () => number | undefined): void;
  /** The L4 path's report, shown under `l4` in the admin `/routes`. */
  setL4Report?(report: () => L4Report): void;
}

export type DataPlaneFactory = (
  options: ProxyOptions,
  logger: Logger,
  metrics?: PorticoMetrics,
) => FileModeDataPlane;

export interface RunFilesDeps {
  readonly createDataPlane: DataPlaneFactory;
  readonly logger: Logger;
  /** Resolves when the process is asked to stop; defaults to the first SIGTERM or SIGINT. */
  readonly stopSignal?: Promise<string>;
}

/** `EXIT_USAGE` is the exit code for a bad command line or unusable manifests folder. */
export const EXIT_USAGE = 2;

/**
 * `runFiles` runs Portico in file mode and resolves with the process exit code: 0 after a clean
 * shutdown, 1 when startup failed, `EXIT_USAGE` when the manifests folder is unusable.
 */
export async function runFiles(
  config: PorticoConfig & { readonly manifests: string },
  deps: RunFilesDeps,
): Promise<number> {
  const log = deps.logger;
  const dir = config.manifests;
  try {
    if (!(await stat(dir)).isDirectory()) {
      log.error({ manifests: dir }, '--manifests is not a directory');
      return EXIT_USAGE;
    }
  } catch (err) {
    log.error({ manifests: dir, err }, '--manifests cannot be read');
    return EXIT_USAGE;
  }
  // Ask for the signal before anything async starts, so an early SIGTERM is not the default kill.
  const stop = deps.stopSignal ?? firstSignal(['SIGTERM', 'SIGINT']);

  const metrics = new PorticoMetrics();
  const dataPlane = deps.createDataPlane(config.proxy, log, metrics);
  // `loop` is declared below; the source calls back only after start(), when it exists.
  const source = new FileSource({
    dir,
    ingressClass: config.translate.ingressClass,
    controllerClass: config.translate.controllerClass,
    logger: log,
    onChange: (change) => {
      loop.notify(change);
      l4.notify();
    },
  });
  const l4 = l4RuntimeFor(config, source.store, log, metrics);
  dataPlane.setL4Report?.(() => l4.report());
  // --configmap and --default-ssl-certificate name objects in the folder (namespace "default"
  // when a manifest leaves it out, as kubectl apply would).
  const loop = new Controller({
    ...controllerOptionsFor(config, { source, sink: dataPlane, logger: log, metrics }),
    describeSource: () => {
      const skipped = source.skipped();
      return skipped.length > 0 ? { skippedKinds: skipped.slice(0, 50) } : {};
    },
  });

  let ports: { http: number; https?: number; admin: number };
  try {
    await source.start();
    // First load: publish at once (no holdoff) so /readyz turns 200 as soon as we listen.
    loop.runNow();
    await l4.syncNow();
    ports = await dataPlane.listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    log.error(
      { err },
      e.code === 'EADDRINUSE'
        ? `startup failed: ${e.address ?? ''}:${e.port ?? ''} is already in use`
        : 'startup failed',
    );
    loop.stop();
    await l4.stop().catch(() => undefined);
    await source.stop().catch(() => undefined);
    await dataPlane.shutdown().catch(() => undefined);
    return 1;
  }
  log.info(
    {
      httpPort: ports.http,
      httpsPort: ports.https,
      adminPort: ports.admin,
      bindAddress: config.proxy.bindAddress,
      manifests: dir,
    },
    'listening',
  );

  const signal = await stop;
  log.info({ signal, shutdownDelayMs: config.proxy.shutdownDelayMs }, 'shutting down');
  loop.stop();
  await Promise.all([source.stop(), dataPlane.shutdown(), l4.stop()]);
  log.info('stopped');
  return 0;
}

/**
 * `firstSignal` resolves with the first of `signals`. A second one while shutting down means the
 * user is done waiting: exit at once.
 */
export function firstSignal(signals: readonly NodeJS.Signals[]): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    for (const s of signals) {
      process.on(s, () => {
        if (seen) process.exit(130);
        seen = true;
        resolve(s);
      });
    }
  });
}
