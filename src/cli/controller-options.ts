/**
 * `controller-options` maps the process configuration onto the controller, once for both modes,
 * so a new setting is wired in one place and file mode and cluster mode cannot drift apart.
 */
import type { ControllerOptions } from '../controller/loop.js';
import { defaultPipeline } from '../controller/pipeline.js';
import { baseSettings } from '../model/settings/types.js';
import type { PorticoConfig } from './flags.js';

/**
 * `controllerOptionsFor` returns the options every mode shares: the pure pipeline, translation
 * settings, the flag layer of the global settings, and the objects named by `--configmap` and
 * `--default-ssl-certificate` (a ConfigMap/Secret in the folder in file mode; watched, respectively
 * pinned in the store, in cluster mode).
 */
export function controllerOptionsFor(
  config: PorticoConfig,
  wiring: Pick<ControllerOptions, 'source' | 'sink' | 'logger' | 'metrics'>,
): ControllerOptions {
  return {
    ...wiring,
    pipeline: defaultPipeline,
    translateOptions: config.translate,
    settingsBase: baseSettings(config.proxy),
    ...(config.cluster.configMap !== undefined ? { settingsConfigMap: config.cluster.configMap } : {}),
    ...(config.cluster.defaultSslCertificate !== undefined
      ? { defaultCertificate: config.cluster.defaultSslCertificate }
      : {}),
  };
}
