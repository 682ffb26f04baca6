/**
 * `run-cluster` wires cluster mode: API server → informers (`ClusterSource`) → `Controller` → data
 * plane, with leader-elected status reporting and the optional admission webhook hanging off the
 * controller's model observer. It serves until SIGTERM/SIGINT, the same way file mode does.
 */
import { createAdmissionServer } from '../admission/server.js';
import { Controller } from '../controller/loop.js';
import { readyPods } from '../endpoints/slices.js';
import { clientTransports, KubeConfigError, loadKubeConfig } from '../k8s/client.js';
import { createClusterReporting } from '../k8s/reporting.js';
import { ClusterSource } from '../k8s/source.js';
import { PorticoMetrics } from '../metrics/registry.js';
import { controllerOptionsFor } from './controller-options.js';
import type { PorticoConfig } from './flags.js';
import { l4RuntimeFor, l4TranslateOptionsFor } from './l4-options.js';
import { EXIT_USAGE, firstSignal, type RunFilesDeps } from './run-files.js';

/** `RunClusterDeps` are the same seams file mode has. */
export type RunClusterDeps = RunFilesDeps;

/**
 * `runCluster` runs Portico against the Kubernetes API and resolves with the process exit code: 0
 * after a clean shutdown, 1 when startup failed, `EXIT_USAGE` when no cluster configuration was
 * found.
 *
 * Startup order: the data plane listens first (so probes get answers: /healthz 200, /readyz 503),
 * then the informers start; `/readyz` turns 200 with the first published snapshot, which the
 * controller holds back until every informer has listed (its synced gate).
 */
export async function runCluster(config: PorticoConfig, deps: RunClusterDeps): Promise<number> {
  const log = deps.logger;
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig(
      config.cluster.kubeconfig !== undefined ? { kubeconfig: config.cluster.kubeconfig } : {},
    );
  } catch (err) {
    if (!(err instanceof KubeConfigError)) throw err;
    log.error({ err: err.message }, 'cluster mode: no usable kubeconfig');
    return EXIT_USAGE;
  }
  // Ask for the signal before anything async starts, so an early SIGTERM is not the default kill.
  const stop = deps.stopSignal ?? firstSignal(['SIGTERM', 'SIGINT']);

  const metrics = new PorticoMetrics();
  const dataPlane = deps.createDataPlane(config.proxy, log, metrics);
  // `loop` is declared below; the source calls back only after start(), when it exists.
  const source = new ClusterSource({
    transports: clientTransports(kubeConfig),
    cluster: config.cluster,
    classes: config.translate,
    l4ConfigMaps: [config.l4.tcpServicesConfigMap, config.l4.udpServicesConfigMap].filter(
      (name) => name !== undefined,
    ),
    logger: log,
    metrics,
    onChange: (change) => {
      loop.notify(change);
      l4.notify();
    },
    // First complete picture: publish at once instead of waiting out the holdoff.
    onSynced: () => {
      loop.runNow();
      void l4.syncNow();
    },
  });
  const l4 = l4RuntimeFor(config, source.store, log, metrics);
  dataPlane.setL4Report?.(() => l4.report());
  const reporting = createClusterReporting({
    kubeConfig,
    store: source.store,
    cluster: config.cluster,
    translate: config.translate,
    logger: log,
    metrics,
    l4: l4TranslateOptionsFor(config),
  });
  const admissionConfig = config.cluster.admission;
  const admission =
    admissionConfig === undefined
      ? undefined
      : createAdmissionServer({
          listen: { host: admissionConfig.host, port: admissionConfig.port },
          certDir: admissionConfig.certDir,
          logger: log,
          metrics,
          translate: config.translate,
          store: source.store,
          currentModel: () => loop.model,
          secretExists: (namespace, name) => source.secretExists(namespace, name),
        });
  // Shared rate limits fall back to a per-replica share while Redis is away: the replicas are the
  // ready endpoints of --publish-service, counted at most once a second (asked per request).
  const publish = config.cluster.publishService;
  if (publish !== undefined && dataPlane.setReplicaCounter !== undefined) {
    let counted = { at: -Infinity, n: 0 };
    dataPlane.setReplicaCounter(() => {
      const now = performance.now();
      if (now - counted.at > 1_000) {
        const slices = source.store.list('EndpointSlice').map((s) => s.object);
        counted = { at: now, n: readyPods(slices, publish.namespace, publish.name) };
      }
      return counted.n;
    });
  }
  // The --configmap ConfigMap is watched alone; the SecretKeeper pins --default-ssl-certificate.
  const loop = new Controller({
    ...controllerOptionsFor(config, { source, sink: dataPlane, logger: log, metrics }),
    onModel: (model, generation) => {
      reporting.onModel(model, generation);
      admission?.onModel(model);
    },
  });

  let ports: { http: number; https?: number; admin: number };
  let admissionPort: number | undefined;
  try {
    ports = await dataPlane.listen();
    if (admission) admissionPort = (await admission.start()).port;
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
    await admission?.close().catch(() => undefined);
    await dataPlane.shutdown().catch(() => undefined);
    return 1;
  }
  source.start();
  reporting.start();
  log.info(
    {
      httpPort: ports.http,
      httpsPort: ports.https,
      adminPort: ports.admin,
      bindAddress: config.proxy.bindAddress,
      ...(admissionPort !== undefined ? { admissionPort } : {}),
      apiServer: kubeConfig.getCurrentCluster()?.server,
      watchNamespaces: config.cluster.watchNamespaces.length > 0 ? config.cluster.watchNamespaces : 'all',
    },
    'listening',
  );

  const signal = await stop;
  log.info({ signal, shutdownDelayMs: config.proxy.shutdownDelayMs }, 'shutting down');
  // The informers keep running through the shutdown delay and the drain: endpoints that go away
  // meanwhile (a rollout) should stop receiving the requests still being served. Leadership is
  // handed over at once, so another replica takes status over without waiting for the Lease to
  // expire.
  await Promise.all([
    dataPlane.shutdown(),
    l4.stop(),
    reporting.stop().catch((err: unknown) => log.warn({ err }, 'releasing the leader Lease failed')),
  ]);
  loop.stop();
  source.stop();
  await admission?.close().catch(() => undefined);
  log.info('stopped');
  return 0;
}
