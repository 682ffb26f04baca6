/**
 * `portico l4-rules` prints exactly the payload a kernel L4 mode would apply for a manifests
 * folder, and exits: a dry run users can audit, and the text the golden tests compare. It loads
 * the folder as file mode does (without watching or serving), translates the TCP/UDP services
 * ConfigMaps and L4Routes, and renders with the same pure renderers the apply step uses.
 *
 * Output (stdout), per mode:
 * - iptables: the `iptables-restore --noflush` payload, preceded by the jumps Portico ensures in
 *   built-in chains as `# ensured: …` comments (iptables-restore skips `#` lines);
 * - nftables: the `nft -f` script;
 * - ipvs: the `ipvsadm-restore` payload, then the companion `iptables-restore --noflush` payload
 *   with its ensured jumps, each section introduced by a `#` line, and the sysctls as comments.
 * Diagnostics go to stderr. Exit 0: rendered, nothing rejected (warnings allowed); 1: rendered,
 * but a ConfigMap entry, L4Route, manifest or service was rejected; 2: bad usage.
 */
import { parseArgs } from 'node:util';
import { FileSource } from '../files/source.js';
import type { L4Rejection, L4State } from '../l4/model.js';
import { formatIptablesForAudit, renderIptables } from '../l4/render/iptables.js';
import { formatIpvsTable, renderIpvs } from '../l4/render/ipvs.js';
import { renderNftables } from '../l4/render/nftables.js';
import { type L4Mode, translateL4 } from '../l4/translate.js';
import type { Logger } from '../log/logger.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { FlagError, parseFlags } from './flags.js';
import { l4TranslateOptionsFor } from './l4-options.js';
import { EXIT_USAGE } from './run-files.js';

export const L4_RULES_HELP = `Usage: portico l4-rules --manifests DIR --mode iptables|ipvs|nftables [--node-ip A]
                        [--tcp-services-configmap NS/NAME] [--udp-services-configmap NS/NAME]
                        [--redirect-privileged-ports [--http-port P] [--https-port P]]

Prints the rules a kernel --l4-mode would apply for the TCP/UDP services of a manifests folder
(ConfigMaps in ingress-nginx's format and L4Routes), and exits. Nothing is applied.

  --mode MODE   iptables (iptables-restore payload), nftables (nft script) or ipvs
                (ipvsadm -R payload, then its companion iptables-restore payload).

Diagnostics go to stderr. Exit 0 when everything was rendered, 1 when something was rejected
(the rest is still printed), 2 on bad usage.
`;

const KERNEL_MODES: readonly L4Mode[] = ['iptables', 'ipvs', 'nftables'];

/** `formatDiagnostic` prints one diagnostic as a line: `file:line:col: error Object field: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.source !== undefined ? `${d.source}: ` : '';
  return `${where}${d.severity} ${d.object}${d.field !== '' ? ` ${d.field}` : ''}: ${d.message}`;
}

function rejectionLine(r: L4Rejection): string {
  return `error L4 service ${r.service} ${r.field}: ${r.reason}`;
}

/** `renderPayload` is the stdout text for one mode, and the services the renderer left out. */
export function renderPayload(
  mode: Exclude<L4Mode, 'userspace'>,
  state: L4State,
): { text: string; rejected: readonly L4Rejection[] } {
  if (mode === 'iptables') {
    const render = renderIptables(state);
    return { text: formatIptablesForAudit(render), rejected: render.rejected };
  }
  if (mode === 'nftables') {
    const render = renderNftables(state);
    return { text: render.script, rejected: render.rejected };
  }
  const render = renderIpvs(state);
  const sysctls = Object.entries(render.sysctls)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `# sysctl ${k}=${v}`);
  const text = [
    // Not `ipvsadm-restore`: Debian's wrapper clears the whole table (`ipvsadm -C`) first.
    '# ipvsadm -R',
    formatIpvsTable(render.virtualServers).trimEnd(),
    '# iptables-restore --noflush (companion rules)',
    formatIptablesForAudit({ payload: render.companionPayload, jumps: render.companionJumps }).trimEnd(),
    ...sysctls,
  ]
    .filter((line) => line !== '')
    .join('\n');
  return { text: `${text}\n`, rejected: render.rejected };
}

/** `runL4Rules` runs `portico l4-rules …` and resolves with the exit code. */
export async function runL4Rules(argv: readonly string[], logger: Logger): Promise<number> {
  const usage = (message: string): number => {
    process.stderr.write(`portico l4-rules: ${message}\nRun 'portico l4-rules --help' for usage.\n`);
    return EXIT_USAGE;
  };
  const mine: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--mode' || arg.startsWith('--mode=')) {
      mine.push(arg);
      if (arg === '--mode' && i + 1 < argv.length) mine.push(argv[++i] as string);
    } else rest.push(arg);
  }
  let mode: string | undefined;
  let command: ReturnType<typeof parseFlags>;
  try {
    mode = parseArgs({ args: mine, options: { mode: { type: 'string' } }, strict: true }).values.mode;
    // --mode is the process's --l4-mode here, so flags that need a kernel mode are accepted.
    const kernelModeGiven = mode !== undefined && (KERNEL_MODES as readonly string[]).includes(mode);
    command = parseFlags(kernelModeGiven ? ['--l4-mode', mode as string, ...rest] : rest);
  } catch (err) {
    if (!(err instanceof FlagError) && !(err instanceof TypeError)) throw err;
    return usage(err.message);
  }
  if (command.kind === 'help') {
    process.stdout.write(L4_RULES_HELP);
    return 0;
  }
  if (command.kind !== 'run') return usage('unexpected --version');
  const config = command.config;
  if (config.manifests === undefined) return usage('--manifests is required');
  if (mode === undefined) return usage('--mode is required');
  if (!(KERNEL_MODES as readonly string[]).includes(mode))
    return usage(`--mode must be one of ${KERNEL_MODES.join(', ')} (userspace has no rules to print)`);
  const kernelMode = mode as Exclude<L4Mode, 'userspace'>;
  const nodeIp = config.l4.nodeIp;
  if (kernelMode === 'ipvs' && nodeIp === undefined)
    return usage('--mode ipvs needs --node-ip (a virtual server is an address)');

  const source = new FileSource({
    dir: config.manifests,
    ingressClass: config.translate.ingressClass,
    controllerClass: config.translate.controllerClass,
    logger,
  });
  try {
    await source.load();
  } catch (err) {
    return usage(`--manifests cannot be read: ${String(err)}`);
  }
  const store = source.store;
  const translation = translateL4(
    {
      configMaps: store.list('ConfigMap'),
      routes: store.list('L4Route'),
      services: store.list('Service'),
      endpointSlices: store.list('EndpointSlice'),
    },
    l4TranslateOptionsFor(config, kernelMode),
  );
  const { text, rejected } = renderPayload(kernelMode, translation.state);
  // Manifest problems (parse errors, invalid documents) can hide a ConfigMap or an L4Route.
  const diagnostics = [...source.diagnostics(), ...translation.diagnostics];
  const lines = [...diagnostics.map(formatDiagnostic), ...rejected.map(rejectionLine)];
  if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
  process.stdout.write(text);
  const failed = rejected.length > 0 || diagnostics.some((d) => d.severity === 'error');
  return failed ? 1 : 0;
}
