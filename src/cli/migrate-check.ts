/**
 * `portico migrate-check` tells an ingress-nginx user, before switching, what Portico does with
 * every annotation of their Ingresses: supported, supported with a documented difference (which),
 * refused, or unknown (ignored). It reads a manifests folder or a live cluster (all namespaces)
 * and exits; nothing is served or written. The statuses come from the same tables the parsers use
 * (src/migrate/status.ts); the JSON shape is documented in src/migrate/report.ts.
 */
import { parseArgs } from 'node:util';
import { FileSource } from '../files/source.js';
import { clientTransports, KubeConfigError, loadKubeConfig } from '../k8s/client.js';
import { fromApiObject } from '../k8s/convert.js';
import type { Logger } from '../log/logger.js';
import { type MigrationReport, migrationReport, renderMigrationText } from '../migrate/report.js';
import type { Ingress } from '../model/objects.js';
import type { StoredObject } from '../store/object-store.js';
import { formatDiagnostic } from './l4-rules.js';
import { EXIT_USAGE } from './run-files.js';

export const MIGRATE_CHECK_HELP = `Usage: portico migrate-check (--manifests DIR | --kubeconfig PATH) [--output text|json]

Lists every nginx.ingress.kubernetes.io/ and portico.dev/ annotation of every Ingress (whatever
its class; with --kubeconfig, all namespaces) with what Portico does with it: supported,
supported with a documented difference (which), refused (snippets: the Ingress would not be
served), or unknown (ignored). Nothing is served or written.

  --manifests DIR     Read the Ingresses of a manifests folder.
  --kubeconfig PATH   Read the Ingresses of a live cluster.
  --output text|json  Output format (default text; the JSON shape is in docs/ingress-nginx-migration.md).

Exit 0 when nothing is refused or unknown, 1 when something is (or the cluster cannot be read),
2 on bad usage.
`;

const FLAGS = {
  manifests: { type: 'string' },
  kubeconfig: { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `clusterIngresses` lists every Ingress of the cluster, page by page. */
async function clusterIngresses(kubeconfig: string): Promise<StoredObject<Ingress>[]> {
  const transport = clientTransports(loadKubeConfig({ kubeconfig })).collection({ kind: 'Ingress' });
  const out: StoredObject<Ingress>[] = [];
  let token: string | undefined;
  // Bounded: a server that keeps answering with a continue token cannot loop us forever.
  for (let page = 0; page < 10_000; page++) {
    const list = await transport.list({ limit: 500, ...(token !== undefined ? { continue: token } : {}) });
    for (const item of list.items) {
      const converted = fromApiObject('Ingress', item);
      if (converted.ok) out.push({ object: converted.object as Ingress });
      else
        process.stderr.write(
          `portico migrate-check: skipping an Ingress: ${converted.field}: ${converted.message}\n`,
        );
    }
    token = list.continue;
    if (token === undefined || token === '') break;
  }
  return out;
}

/** `runMigrateCheck` runs `portico migrate-check …` and resolves with the exit code. */
export async function runMigrateCheck(argv: readonly string[], logger: Logger): Promise<number> {
  const usage = (message: string): number => {
    process.stderr.write(
      `portico migrate-check: ${message}\nRun 'portico migrate-check --help' for usage.\n`,
    );
    return EXIT_USAGE;
  };
  let values: { manifests?: string; kubeconfig?: string; output?: string; help?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return usage(err.message);
  }
  if (values.help === true) {
    process.stdout.write(MIGRATE_CHECK_HELP);
    return 0;
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') return usage('--output must be text or json');
  if ((values.manifests === undefined) === (values.kubeconfig === undefined)) {
    return usage('give exactly one of --manifests DIR and --kubeconfig PATH');
  }

  let ingresses: StoredObject<Ingress>[];
  if (values.manifests !== undefined) {
    // Class rules do not matter here: the Ingresses are about to change controller.
    const source = new FileSource({
      dir: values.manifests,
      ingressClass: 'portico',
      controllerClass: 'portico.dev/ingress-controller',
      logger,
    });
    try {
      await source.load();
    } catch (err) {
      return usage(`--manifests cannot be read: ${String(err)}`);
    }
    // Unparsable files can hide Ingresses: say so, they are not in the report.
    const problems = source.diagnostics().filter((d) => d.severity === 'error');
    if (problems.length > 0) process.stderr.write(`${problems.map(formatDiagnostic).join('\n')}\n`);
    ingresses = [...source.store.list('Ingress')];
  } else {
    try {
      ingresses = await clusterIngresses(values.kubeconfig as string);
    } catch (err) {
      if (err instanceof KubeConfigError) return usage(`no usable kubeconfig: ${err.message}`);
      process.stderr.write(
        `portico migrate-check: cannot list Ingresses: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return 1;
    }
  }
  const report: MigrationReport = migrationReport(ingresses);
  const text = output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderMigrationText(report);
  // The process exits right after (cluster sockets would hold it): let the report reach the pipe first.
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
  return report.ok ? 0 : 1;
}
