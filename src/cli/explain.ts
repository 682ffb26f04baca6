/**
 * `portico explain` answers, without serving, what one request would meet: it loads the same
 * configuration Portico would (a folder with `--manifests`, or the cluster with `--kubeconfig` /
 * in-cluster), builds the same snapshot, and prints the admin `/explain` report. Rate limits are
 * those of a fresh process (every bucket full); ask a running Portico's `/explain` for live counts.
 */
import { parseArgs } from 'node:util';
import { Controller } from '../controller/loop.js';
import { FileSource } from '../files/source.js';
import { clientTransports, KubeConfigError, loadKubeConfig } from '../k8s/client.js';
import { ClusterSource } from '../k8s/source.js';
import type { Logger } from '../log/logger.js';
import { PorticoDataPlane } from '../proxy/data-plane.js';
import type { ExplainQuery, ExplainReport } from '../proxy/explain.js';
import { controllerOptionsFor } from './controller-options.js';
import { FlagError, parseFlags } from './flags.js';
import { EXIT_USAGE } from './run-files.js';

const EXPLAIN_FLAGS = {
  host: { type: 'string' },
  path: { type: 'string' },
  client: { type: 'string' },
  scheme: { type: 'string' },
  header: { type: 'string', multiple: true },
  output: { type: 'string' },
} as const;

export const EXPLAIN_HELP = `Usage: portico explain (--manifests DIR | --kubeconfig PATH) --host H [--path P] [flags]

Prints which Ingress, rule, backend and endpoints a request would meet, and every policy on the
way (redirects, client certificates, IP lists, limits with key, scope and store, authentication).
Nothing is served and the request is never sent.

  --host H            Host of the request (required).
  --path P            Request target, e.g. /api/users?id=1 (default /).
  --client IP         Client address the policies see (default 127.0.0.1).
  --scheme http|https Listener the request arrives on (default http).
  --header NAME:VALUE A request header (repeatable), for limit keys on headers or cookies.
  --output json|text  Output format (default json).

Every other portico flag (--configmap, --ingress-class, --redis-url, …) applies as when serving.
`;

function splitArgs(argv: readonly string[]): { mine: string[]; rest: string[] } {
  const mine: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = arg.startsWith('--') ? arg.slice(2).split('=', 1)[0] : undefined;
    if (name !== undefined && Object.hasOwn(EXPLAIN_FLAGS, name)) {
      mine.push(arg);
      if (!arg.includes('=') && i + 1 < argv.length) mine.push(argv[++i] as string);
    } else rest.push(arg);
  }
  return { mine, rest };
}

/** `renderText` prints the report for people. */
export function renderText(report: ExplainReport): string {
  const m = report.match;
  const lines = [
    `request   ${report.request.scheme}://${report.request.host}${report.request.path} from ${report.request.client}`,
    `ingress   ${m.ingress ?? '(none)'}${m.rule === null ? ` (${m.kind})` : ` rule ${m.rule.host || '*'}${m.rule.path} ${m.rule.pathType} at ${m.rule.field}`}`,
    `backend   ${m.backend ?? '(none)'}${m.backendProblem !== null ? ` — ${m.backendProblem}` : ''} over ${m.backendProtocol}`,
    `endpoints ${m.endpoints.length === 0 ? '(none ready)' : m.endpoints.join(', ')}`,
  ];
  for (const step of report.steps) {
    const details = Object.entries(step)
      .filter(([k]) => k !== 'step' && k !== 'verdict')
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ');
    lines.push(`policy    ${step.step}: ${step.verdict}${details === '' ? '' : ` (${details})`}`);
  }
  lines.push(`outcome   ${report.outcome}`);
  return `${lines.join('\n')}\n`;
}

/** `runExplain` runs `portico explain …` and resolves with the exit code. */
export async function runExplain(argv: readonly string[], logger: Logger): Promise<number> {
  const { mine, rest } = splitArgs(argv);
  let values: {
    host?: string;
    path?: string;
    client?: string;
    scheme?: string;
    header?: string[];
    output?: string;
  };
  let command: ReturnType<typeof parseFlags>;
  try {
    values = parseArgs({ args: mine, options: EXPLAIN_FLAGS, strict: true }).values;
    command = parseFlags(rest);
  } catch (err) {
    if (!(err instanceof FlagError) && !(err instanceof TypeError)) throw err;
    process.stderr.write(`portico explain: ${err.message}\nRun 'portico explain --help' for usage.\n`);
    return EXIT_USAGE;
  }
  if (command.kind === 'help') {
    process.stdout.write(EXPLAIN_HELP);
    return 0;
  }
  const usage = (message: string): number => {
    process.stderr.write(`portico explain: ${message}\nRun 'portico explain --help' for usage.\n`);
    return EXIT_USAGE;
  };
  if (command.kind !== 'run') return usage('unexpected --version');
  if (values.host === undefined || values.host === '') return usage('--host is required');
  const scheme = values.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') return usage('--scheme must be http or https');
  const output = values.output ?? 'json';
  if (output !== 'json' && output !== 'text') return usage('--output must be json or text');
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) return usage(`--header ${JSON.stringify(h)} must be NAME:VALUE`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const query: ExplainQuery = {
    host: values.host,
    path: values.path ?? '/',
    scheme,
    headers,
    ...(values.client !== undefined ? { client: values.client } : {}),
  };

  const config = command.config;
  const dataPlane = new PorticoDataPlane(config.proxy, logger);
  let loaded!: () => void;
  const firstLoad = new Promise<void>((resolve) => {
    loaded = resolve;
  });
  let stopSource: () => Promise<void> | void;
  // Assigned before either source starts; the sources call back only after start().
  let loop: Controller | undefined;
  if (config.manifests !== undefined) {
    const source = new FileSource({
      dir: config.manifests,
      ingressClass: config.translate.ingressClass,
      controllerClass: config.translate.controllerClass,
      logger,
      onChange: (change) => loop?.notify(change),
    });
    const controller = new Controller(controllerOptionsFor(config, { source, sink: dataPlane, logger }));
    loop = controller;
    try {
      await source.start();
    } catch (err) {
      process.stderr.write(`portico explain: --manifests cannot be read: ${String(err)}\n`);
      return EXIT_USAGE;
    }
    controller.runNow();
    loaded();
    stopSource = () => source.stop();
  } else {
    let kubeConfig: ReturnType<typeof loadKubeConfig>;
    try {
      kubeConfig = loadKubeConfig(
        config.cluster.kubeconfig !== undefined ? { kubeconfig: config.cluster.kubeconfig } : {},
      );
    } catch (err) {
      if (!(err instanceof KubeConfigError)) throw err;
      return usage(`no usable kubeconfig: ${err.message}`);
    }
    const source = new ClusterSource({
      transports: clientTransports(kubeConfig),
      cluster: config.cluster,
      classes: config.translate,
      logger,
      onChange: (change) => loop?.notify(change),
      onSynced: () => {
        loop?.runNow();
        loaded();
      },
    });
    loop = new Controller(controllerOptionsFor(config, { source, sink: dataPlane, logger }));
    source.start();
    stopSource = () => source.stop();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
    if ((await Promise.race([firstLoad, timeout])) === 'timeout') {
      process.stderr.write('portico explain: the cluster did not list within 30 s\n');
      loop.stop();
      await stopSource();
      return 1;
    }
  }
  await firstLoad;
  const report = await dataPlane.explain(query);
  process.stdout.write(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
  loop?.stop();
  await stopSource();
  return 0;
}
