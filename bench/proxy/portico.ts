/**
 * Target (b): Portico itself, from the compiled CLI, in file mode over a generated folder of
 * `ctx.ingresses` Ingresses. Skipped (not failed) while `dist/cli/main.js` does not exist yet.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeManifests } from '../lib/manifests.js';
import { freePort, httpGet, LOOPBACK, waitForHttp } from '../lib/net.js';
import { spawnProc } from '../lib/procs.js';
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

export const porticoTarget: Target = {
  id: 'portico',
  letter: 'b',
  label: 'Portico',
  skipReason(ctx) {
    return existsSync(resolve(ctx.repoDir, ctx.porticoMain)) ? undefined : 'not built';
  },
  async start(ctx): Promise<RunningTarget> {
    const dir = ensureManifests(ctx);
    const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
    const args = [
      ctx.porticoMain,
      '--manifests',
      dir,
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
      ...ctx.porticoArgs,
    ];
    const proc = spawnProc('portico', process.execPath, args, {
      cpu: ctx.proxyCpu,
      cwd: ctx.repoDir,
      logFile: join(ctx.workDir, 'portico.log'),
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let alive = true;
    void proc.exited.then(() => {
      alive = false;
    });
    try {
      await waitForHttp(`http://${LOOPBACK}:${admin}/readyz`, {
        timeoutMs: ctx.readyTimeoutMs,
        alive: () => alive,
      });
    } catch (e) {
      await proc.stop();
      throw new Error(`portico failed to become ready: ${(e as Error).message}\n${proc.tail()}`);
    }
    // /readyz should imply the routes are published; if the bench route still fails, give it a
    // little time but report the lag rather than hide it.
    const url = `http://${LOOPBACK}:${http}/`;
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
      command: `node ${args.join(' ')}`,
      ...(note !== undefined ? { note } : {}),
      stop: () => proc.stop(),
    };
  },
};
