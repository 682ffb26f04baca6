/**
 * `procs` spawns every benchmark process in its own process group and guarantees they all die:
 * at `stop()`, at `killAll()`, and on SIGINT/SIGTERM/uncaught errors/exit of the runner.
 *
 * NOTE: `detached: true` makes each child a session and process-group leader (setsid), so
 * `process.kill(-pid)` reaches grandchildren too (nginx workers, `taskset`-exec'd programs).
 * Ctrl-C in a terminal only signals the foreground group (ours), hence the explicit handlers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

export interface SpawnOptions {
  /** CPU list for `taskset -c`; absent = no pinning. */
  readonly cpu?: string | undefined;
  /** File receiving stdout+stderr; absent = output is captured in memory (for clients). */
  readonly logFile?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Captured stdout (only when no `logFile` was given). */
  stdout(): string;
  stderr(): string;
  /** Last lines of the log file or captured stderr, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM the whole group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Proc>();
let handlersInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const exitHooks: (() => void)[] = [];

/** `onExit` registers a synchronous clean-up (e.g. removing the scratch dir) for any kind of exit. */
export function onExit(hook: () => void): void {
  installHandlers();
  exitHooks.push(hook);
}

/** `killAllSync` SIGKILLs every live process group; safe inside an 'exit' handler. */
export function killAllSync(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
  live.clear();
}

function exitCleanup(): void {
  killAllSync();
  for (const hook of exitHooks.splice(0)) {
    try {
      hook();
    } catch {
      // Best effort: the process is exiting anyway.
    }
  }
}

/** `killAll` stops every live process group gracefully (SIGTERM, then SIGKILL). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', exitCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, killing ${live.size} process group(s)\n`);
      exitCleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** `spawnProc` starts `cmd args` (under `taskset -c cpu` when asked) in a fresh process group. */
export function spawnProc(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Proc {
  installHandlers();
  const [file, argv] =
    opts.cpu !== undefined ? ['taskset', ['-c', opts.cpu, cmd, ...args]] : [cmd, [...args]];
  const child = spawn(file, argv, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? process.env,
  });
  if (child.pid === undefined) throw new Error(`cannot spawn ${file}`);
  const pid = child.pid;
  let out = '';
  let err = '';
  if (opts.logFile !== undefined) {
    const log = createWriteStream(opts.logFile);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  } else {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      err += String(e);
      resolve({ code: -1, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const logFile = opts.logFile;
  const proc: Proc = {
    name,
    pid,
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    tail(lines = 20) {
      let text = err;
      if (logFile !== undefined) {
        try {
          text = readFileSync(logFile, 'utf8');
        } catch {
          text = '';
        }
      }
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    },
    async stop(graceMs = 3000) {
      if (!live.has(proc)) return;
      killGroup(pid, 'SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(r, graceMs, 'timeout').unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        killGroup(pid, 'SIGKILL');
        await exited;
      }
      // The leader may exit before its group (nginx master vs worker): sweep the group anyway.
      killGroup(pid, 'SIGKILL');
      live.delete(proc);
    },
  };
  live.add(proc);
  return proc;
}

/** `runToEnd` spawns a client (wrk, hey) and waits for it, with a hard deadline. */
export async function runToEnd(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions & { readonly timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnProc(name, cmd, args, opts);
  const timer = new Promise<'timeout'>((r) => setTimeout(r, opts.timeoutMs, 'timeout').unref());
  const res = await Promise.race([p.exited, timer]);
  await p.stop(1000);
  if (res === 'timeout') throw new Error(`${name} did not finish within ${opts.timeoutMs} ms`);
  return { code: res.code, stdout: p.stdout(), stderr: p.stderr() };
}
