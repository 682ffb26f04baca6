/**
 * `portico-process` runs the compiled `portico` binary (dist/cli/main.js, built by `npm run
 * test:e2e`) as a real child process for end-to-end tests: temp manifests folder, ephemeral ports
 * read from the "listening" log line, /readyz polling, collected logs, and a kill on teardown.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** `PORTICO_BIN` is the compiled CLI; tests never run the TypeScript sources directly. */
export const PORTICO_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `LogEntry` is one parsed pino line. */
export type LogEntry = Record<string, unknown> & { readonly msg?: string; readonly level?: number };

export interface PorticoProcess {
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly child: ChildProcess;
  /** Every JSON log line so far, in order. */
  readonly logs: LogEntry[];
  /** Non-JSON stdout lines and all of stderr. */
  readonly output: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** `waitForLog` resolves with the first entry (past or future) matching `pred`. */
  waitForLog(pred: (e: LogEntry) => boolean, timeoutMs?: number, from?: number): Promise<LogEntry>;
  /** `stop` sends `signal` and waits for exit; a SIGKILL follows after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface StartOptions {
  readonly manifests: string;
  /** Extra flags; ports default to 0 and bind address to 127.0.0.1. */
  readonly args?: readonly string[];
  readonly startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** `startPortico` spawns portico in file mode, waits for the "listening" line and /readyz 200. */
export async function startPortico(options: StartOptions): Promise<PorticoProcess> {
  const proc = await spawnPortico(['--manifests', options.manifests, ...(options.args ?? [])], {
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  await waitUntil(async () => (await get(proc.adminPort, '/readyz')).status === 200, 10_000, 'readyz 200');
  return proc;
}

export interface SpawnOptions {
  /** Extra environment, over the test process's own. */
  readonly env?: Readonly<Record<string, string>>;
  readonly bindAddress?: string;
  readonly startTimeoutMs?: number;
  /**
   * Run inside this network namespace (`ip netns exec`, which execs: the child's pid is Portico's,
   * so signals reach it directly).
   */
  readonly netns?: string;
}

/**
 * `spawnPortico` runs the compiled CLI with `args` (either mode) on ephemeral ports, collects its
 * logs, and resolves at its "listening" line, before /readyz: tests of the synced gate look at the
 * 503 first.
 */
export async function spawnPortico(
  modeArgs: readonly string[],
  options: SpawnOptions = {},
): Promise<PorticoProcess> {
  const args = [
    PORTICO_BIN,
    '--http-port',
    '0',
    '--https-port',
    '0',
    '--admin-port',
    '0',
    '--bind-address',
    options.bindAddress ?? '127.0.0.1',
    ...modeArgs,
  ];
  const [command, ...argv] = inNetns(options.netns, [process.execPath, ...args]);
  const child = spawn(command as string, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env !== undefined ? { env: { ...process.env, ...options.env } } : {}),
  });
  running.add(child);
  const logs: LogEntry[] = [];
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
      notify();
    });
  });
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as LogEntry);
      } catch {
        output.push(line);
      }
      notify();
    });
  }
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => output.push(line));

  const waitForLog = (pred: (e: LogEntry) => boolean, timeoutMs = 10_000, from = 0): Promise<LogEntry> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = logs.slice(from).find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
          return true;
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`portico exited before the expected log line\n${dump(logs, output)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line\n${dump(logs, output)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(listener);
      };
      const listener = () => {
        check();
      };
      waiters.add(listener);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  let listening: LogEntry;
  try {
    listening = await waitForLog((e) => e.msg === 'listening', options.startTimeoutMs ?? 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const httpPort = Number(listening['httpPort']);
  const adminPort = Number(listening['adminPort']);
  const httpsPort = Number(listening['httpsPort']);
  const proc: PorticoProcess = {
    httpPort,
    httpsPort,
    adminPort,
    child,
    logs,
    output,
    exited,
    waitForLog,
    stop,
  };
  return proc;
}

function dump(logs: readonly LogEntry[], output: readonly string[]): string {
  return [...logs.map((l) => JSON.stringify(l)), ...output].slice(-40).join('\n');
}

/** `HttpAnswer` is a buffered HTTP response. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * `get` sends one request to 127.0.0.1:`port` on a fresh connection (no keep-alive, so tests never
 * share sockets) with an explicit Host header.
 */
export function get(
  port: number,
  path: string,
  options: { host?: string; method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: { ...(options.host ? { host: options.host } : {}), ...options.headers, connection: 'close' },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to :${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** `routedTo` asks the proxy and returns the echo backend's name, or `status N`. */
export async function routedTo(port: number, host: string, path: string): Promise<string> {
  const res = await get(port, path, { host });
  if (res.status !== 200) return `status ${res.status}`;
  try {
    const body = JSON.parse(res.body) as { name?: unknown };
    return typeof body.name === 'string' ? body.name : res.body;
  } catch {
    return res.body;
  }
}

/** `waitUntil` polls `cond` every 50 ms until it holds, or throws after `timeoutMs`. */
export async function waitUntil(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
  );
}

/** `ManifestDir` is a temp manifests folder a test writes into. */
export interface ManifestDir {
  readonly dir: string;
  write(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** `manifestDir` creates a temp folder holding `files` (name → YAML text). */
export async function manifestDir(files: Record<string, string> = {}): Promise<ManifestDir> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-e2e-'));
  const write = async (name: string, text: string) => {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    // Write then rename, as editors and kubectl do, so the watcher never sees half a file.
    const tmp = join(dir, `.${name.replaceAll('/', '_')}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(dir, name));
  };
  for (const [name, text] of Object.entries(files)) await write(name, text);
  return {
    dir,
    write,
    remove: (name) => unlink(join(dir, name)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

function inNetns(netns: string | undefined, argv: readonly string[]): readonly string[] {
  return netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
}

/**
 * `runPortico` runs the CLI to completion (for --help, --version, usage errors, `portico cleanup`),
 * inside network namespace `netns` when given.
 */
export function runPortico(
  args: readonly string[],
  timeoutMs = 10_000,
  netns?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...argv] = inNetns(netns, [process.execPath, PORTICO_BIN, ...args]);
    const child = spawn(command as string, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portico ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
