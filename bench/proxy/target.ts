/**
 * `target` defines what the suite benchmarks: a `Target` starts one contender in front of the shared
 * backend and hands back the URL to load plus the process group to watch and stop.
 */
import { join } from 'node:path';
import { freePort, LOOPBACK, waitForHttp } from '../lib/net.js';
import { type Proc, spawnProc } from '../lib/procs.js';

export type TargetId =
  | 'direct'
  | 'portico'
  | 'nginx'
  | 'fastify-http-proxy'
  | 'node-undici'
  | 'fastify-undici';

export interface TargetContext {
  /** Repository root (cwd of spawned Node processes). */
  readonly repoDir: string;
  /** Scratch directory of this run; deleted at the end unless --keep. */
  readonly workDir: string;
  readonly backendPort: number;
  /** The Host header every request carries. */
  readonly host: string;
  /** CPU list for the proxy under test. */
  readonly proxyCpu: string | undefined;
  readonly ingresses: number;
  readonly ingressClass: string | undefined;
  /** Portico's compiled entry point, relative to `repoDir` or absolute (default dist/cli/main.js). */
  readonly porticoMain: string;
  /** Extra flags appended to Portico's command line. */
  readonly porticoArgs: readonly string[];
  readonly readyTimeoutMs: number;
}

export interface RunningTarget {
  readonly url: string;
  /** Process group of the proxy (absent for `direct`). */
  readonly proc?: Proc;
  /** The command line that started it, for the report. */
  readonly command?: string;
  /** Something worth reporting about the start (e.g. routes lagging behind /readyz). */
  readonly note?: string;
  stop(): Promise<void>;
}

export interface Target {
  readonly id: TargetId;
  /** The letter the issue uses: (a) … (f). */
  readonly letter: string;
  readonly label: string;
  /** A reason not to run (e.g. Portico not built yet), or undefined. */
  skipReason(ctx: TargetContext): string | undefined;
  start(ctx: TargetContext): Promise<RunningTarget>;
}

/** `startNodeBaseline` runs `bench/baselines/<script>` with tsx on the proxy CPU. */
export async function startNodeBaseline(
  name: string,
  script: string,
  ctx: TargetContext,
): Promise<RunningTarget> {
  const port = await freePort();
  const args = [
    '--import',
    'tsx',
    join('bench', 'baselines', script),
    '--port',
    String(port),
    '--upstream',
    `http://${LOOPBACK}:${ctx.backendPort}`,
  ];
  const proc = spawnProc(name, process.execPath, args, {
    cpu: ctx.proxyCpu,
    cwd: ctx.repoDir,
    logFile: join(ctx.workDir, `${name}.log`),
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let alive = true;
  void proc.exited.then(() => {
    alive = false;
  });
  const url = `http://${LOOPBACK}:${port}/`;
  try {
    await waitForHttp(url, { host: ctx.host, timeoutMs: ctx.readyTimeoutMs, alive: () => alive });
  } catch (e) {
    await proc.stop();
    throw new Error(`${name} failed to start: ${(e as Error).message}\n${proc.tail()}`);
  }
  return { url, proc, command: `node ${args.join(' ')}`, stop: () => proc.stop() };
}
