/**
 * `netns` gives end-to-end tests a network namespace of their own, so they can use addresses the
 * API server accepts in EndpointSlices (it refuses 127.0.0.0/8, as the real one does) without
 * touching the host's network: `ip netns add`, loopback up, a dummy interface holding the test's
 * addresses (10.200.0.0/24; on the namespace's loopback when the dummy driver is missing), and
 * `ip netns exec` to run processes inside. Everything a
 * test creates is deleted afterwards, also on failure.
 *
 * Needs root and iproute2. Under `CI=true` their absence fails the test (a CI job that silently
 * skips its traffic tests proves nothing); elsewhere the test is skipped with the reason.
 */
import { execFile, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** `NetnsSupport` says whether network namespaces can be used here, and if not, why. */
export type NetnsSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** `netnsSupport` checks for root and a working `ip netns`. */
export async function netnsSupport(): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return { ok: false, reason: 'not running as root' };
  try {
    await exec('ip', ['netns', 'list'], { timeout: 5_000 });
  } catch (err) {
    return {
      ok: false,
      reason: `ip netns does not work: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  return { ok: true };
}

/** `Netns` is a network namespace a test created. */
export interface Netns {
  readonly name: string;
  /** Addresses on its dummy interface (or its loopback). */
  readonly addresses: readonly string[];
  /** `exec` runs a command inside and resolves with its output; rejects on a non-zero exit. */
  exec(
    argv: readonly string[],
    options?: { timeoutMs?: number },
  ): Promise<{ stdout: string; stderr: string }>;
  /**
   * `run` spawns a long-running command inside, resolves when it exits with its code and output;
   * `onStderr` sees stderr lines as they come (progress for a failing test's message).
   */
  run(
    argv: readonly string[],
    options?: {
      timeoutMs?: number;
      env?: Readonly<Record<string, string>>;
      onStderr?: (line: string) => void;
    },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  delete(): Promise<void>;
}

/**
 * `createNetns` creates namespace `name` with loopback up and a dummy interface `d0` carrying
 * `addresses` (each with `prefix`). Nothing outside the namespace is changed.
 */
export async function createNetns(name: string, addresses: readonly string[], prefix = 24): Promise<Netns> {
  const ip = (args: readonly string[]) => exec('ip', [...args], { timeout: 10_000 });
  // A namespace left by a crashed run of the same pid would make `add` fail.
  await ip(['netns', 'delete', name]).catch(() => undefined);
  await ip(['netns', 'add', name]);
  const netns: Netns = {
    name,
    addresses,
    exec: (argv, options = {}) =>
      exec('ip', ['netns', 'exec', name, ...argv], {
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
      }),
    run: (argv, options = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', name, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...options.env },
        });
        let stdout = '';
        let stderr = '';
        let partial = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        child.stderr.on('data', (c: Buffer) => {
          const text = c.toString();
          stderr += text;
          const lines = (partial + text).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) options.onStderr?.(l);
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      }),
    async delete() {
      // Processes still inside keep the namespace alive; killing them is the caller's job.
      await ip(['netns', 'delete', name]).catch(() => undefined);
    },
  };
  try {
    await netns.exec(['ip', 'link', 'set', 'lo', 'up']);
    let device = 'd0';
    try {
      await netns.exec(['ip', 'link', 'add', device, 'type', 'dummy']);
      await netns.exec(['ip', 'link', 'set', device, 'up']);
    } catch {
      // No dummy driver (a container without the kernel module): the namespace's own loopback
      // device carries the addresses just as well, since all traffic stays inside.
      device = 'lo';
    }
    for (const a of addresses) await netns.exec(['ip', 'addr', 'add', `${a}/${prefix}`, 'dev', device]);
  } catch (err) {
    await netns.delete();
    throw err;
  }
  return netns;
}

/**
 * `withNetns` runs `fn` with a fresh namespace named `portico-e2e-<pid>[-suffix]` and deletes it
 * afterwards. Without root or `ip netns` it skips the test, or fails it when `CI=true`.
 */
export async function withNetns(
  t: TestContext,
  addresses: readonly string[],
  fn: (netns: Netns) => Promise<void>,
  suffix = '',
): Promise<void> {
  const support = await netnsSupport();
  if (!support.ok) {
    if (process.env['CI'] === 'true') throw new Error(`needs root and ip netns: ${support.reason}`);
    t.skip(`needs root and ip netns: ${support.reason}`);
    return;
  }
  const netns = await createNetns(
    `portico-e2e-${process.pid}${suffix === '' ? '' : `-${suffix}`}`,
    addresses,
  );
  try {
    await fn(netns);
  } finally {
    await netns.delete();
  }
}
