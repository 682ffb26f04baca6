/** `machine` describes where a benchmark ran, for the report header. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  readonly hostname: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly arch: string;
  readonly kernel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly nginx: string;
  readonly wrk: string;
  readonly hey: string;
  readonly loadAvgStart: readonly number[];
  readonly gitCommit: string;
}

function tryRun(cmd: string, args: readonly string[], cwd?: string): string {
  try {
    return execFileSync(cmd, [...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd !== undefined ? { cwd } : {}),
    }).trim();
  } catch {
    return '';
  }
}

/** `debVersion` asks dpkg for an installed package's version ('' when unknown). */
function debVersion(pkg: string): string {
  // dpkg's own format syntax, not a template literal.
  const format = '$' + '{Version}';
  return tryRun('dpkg-query', ['-W', '-f', format, pkg]);
}

/** `describeMachine` collects CPU, OS, tool versions and the git state of `repoDir`. */
export function describeMachine(repoDir: string, nginx: string): MachineInfo {
  const cpus = os.cpus();
  const wrkLine = tryRun('sh', ['-c', 'wrk --version 2>&1 | head -1']);
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD'], repoDir);
  const dirty = tryRun('git', ['status', '--porcelain', '--untracked-files=no'], repoDir) !== '';
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    arch: os.arch(),
    kernel: `${os.type()} ${os.release()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    nginx: `${nginx}${debVersion('nginx-light') !== '' ? ` (nginx-light ${debVersion('nginx-light')})` : ''}`,
    wrk: /wrk (\S+)/.exec(wrkLine)?.[1] ?? (wrkLine || 'unknown'),
    hey: debVersion('hey') || 'unknown',
    loadAvgStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    gitCommit: commit === '' ? 'unknown' : `${commit}${dirty ? ' (dirty)' : ''}`,
  };
}
