/**
 * Target (b): Portico itself, from the compiled CLI, in file mode over a generated folder of
 * `ctx.ingresses` Ingresses. Skipped (not failed) while `dist/cli/main.js` does not exist yet.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeManifests } from '../lib/manifests.js';
import { freePort, httpGet, LOOPBACK, waitForHttp } from '../lib/net.js';
import { type Proc, spawnProc } from '../lib/procs.js';
import type { RunningTarget, Target, TargetContext } from './target.js';

/** `PORTICO_MAIN` is the compiled entry point, relative to the repository root. */
export const PORTICO_MAIN = join('dist', 'cli', 'main.js');

let manifestsDir: string | undefined;

function ensureManifests(ctx: TargetContext): string {
  if (manifestsDir === undefined) {
    const dir = join(ctx.workDir, 'manifests');
    writeManifests({
      dir,
      count: ctx.ingresses,
      backendPort: ctx.backendPort,
      backendAddress: LOOPBACK,
      ingressClass: ctx.ingressClass,
    });
    manifestsDir = dir;
  }
  return manifestsDir;
}

/** `PorticoProcessOptions` say how to start one Portico in file mode for a bench. */
export interface PorticoProcessOptions {
  readonly repoDir: string;
  /** Entry point, relative to `repoDir` or absolute. */
  readonly porticoMain: string;
  readonly manifestsDir: string;
  /** Flags appended after the bench's own (last one wins). */
  readonly extraArgs: readonly string[];
  /** Node flags before the entry point (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  readonly cpu: string | undefined;
  readonly logFile: string;
  readonly readyTimeoutMs: number;
}

/** `RunningPortico` is a started Portico: its HTTP URL, process group and command line. */
export interface RunningPortico {
  readonly url: string;
  readonly adminUrl: string;
  readonly proc: Proc;
  readonly command: string;
}

/**
 * `startPorticoProcess` starts Portico over a manifest folder on loopback ports with per-request
 * logging off, and waits until `/readyz` answers 200 (stopping it and throwing otherwise).
 */
export async function startPorticoProcess(o: PorticoProcessOptions): Promise<RunningPortico> {
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const args = [
    o.porticoMain,
    '--manifests',
    o.manifestsDir,
    '--http-port',
    String(http),
    '--https-port',
    String(https),
    '--admin-port',
    String(admin),
    // Loopback only, like every other contender.
    '--bind-address',
    LOOPBACK,
    // The other contenders log nothing per request (nginx access_log off, Fastify logger off);
    // `--portico-arg=--log-level=info --portico-arg=--access-log=stdout` (last one wins)
    // measures with Portico's defaults instead.
    '--log-level',
    'warn',
    '--access-log',
    'off',
    ...o.extraArgs,
  ];
  const argv = [...(o.nodeArgs ?? []), ...args];
  const proc = spawnProc('portico', process.execPath, argv, {
    cpu: o.cpu,
    cwd: o.repoDir,
    logFile: o.logFile,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let alive = true;
  void proc.exited.then(() => {
    alive = false;
  });
  const adminUrl = `http://${LOOPBACK}:${admin}`;
  try {
    await waitForHttp(`${adminUrl}/readyz`, { timeoutMs: o.readyTimeoutMs, alive: () => alive });
  } catch (e) {
    await proc.stop();
    throw new Error(`portico failed to become ready: ${(e as Error).message}\n${proc.tail()}`);
  }
  return { url: `http://${LOOPBACK}:${http}/`, adminUrl, proc, command: `node ${argv.join(' ')}` };
}

export const porticoTarget: Target = {
  id: 'portico',
  letter: 'b',
  label: 'Portico',
  skipReason(ctx) {
    return existsSync(resolve(ctx.repoDir, ctx.porticoMain)) ? undefined : 'not built';
  },
  async start(ctx): Promise<RunningTarget> {
    const { url, proc, command } = await startPorticoProcess({
      repoDir: ctx.repoDir,
      porticoMain: ctx.porticoMain,
      manifestsDir: ensureManifests(ctx),
      extraArgs: ctx.porticoArgs,
      cpu: ctx.proxyCpu,
      logFile: join(ctx.workDir, 'portico.log'),
      readyTimeoutMs: ctx.readyTimeoutMs,
    });
    let alive = true;
    void proc.exited.then(() => {
      alive = false;
    });
    // /readyz should imply the routes are published; if the bench route still fails, give it a
    // little time but report the lag rather than hide it.
    let note: string | undefined;
    const first = await httpGet(url, ctx.host).catch((e: unknown) => ({ status: 0, body: String(e) }));
    if (first.status !== 200) {
      const t0 = Date.now();
      try {
        await waitForHttp(url, { host: ctx.host, timeoutMs: 10_000, alive: () => alive });
      } catch (e) {
        await proc.stop();
        throw new Error(
          `portico was ready but the bench route answered ${first.status}: ${(e as Error).message}\n${proc.tail()}`,
        );
      }
      note = `bench route answered ${first.status} right after /readyz; 200 after ${Date.now() - t0} ms`;
    }
    return {
      url,
      proc,
      command,
      ...(note !== undefined ? { note } : {}),
      stop: () => proc.stop(),
    };
  },
};
