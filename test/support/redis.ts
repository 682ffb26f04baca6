/**
 * `redis` runs a real `redis-server` for tests: on a free loopback port, without persistence, in a
 * temporary directory. It can be killed (`stop`), frozen (`pause`, SIGSTOP: the socket stays open
 * and nothing answers) and started again on the same port, so tests can take Redis away mid-run.
 *
 * A missing `redis-server` skips the calling tests on a developer machine and fails them under
 * `CI=true`, where a skipped store test would hide a regression.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `redisSkipReason` is undefined when redis-server can run; else why the tests are skipped. */
export function redisSkipReason(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  if (process.env['CI'] === 'true') {
    throw new Error('redis-server is not installed, and CI=true requires the Redis store tests to run');
  }
  return 'redis-server is not installed';
}

/** A loopback port nothing listens on (at the time of the call). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Sends PING; true on +PONG within `timeoutMs`. */
export function ping(port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export class RedisServer {
  private process: ChildProcess | undefined;
  private paused = false;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'portico-redis-'));
    const server = new RedisServer(await freePort(), dir);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts on the same port; resolves when PING answers (at most 10 s). */
  async start(): Promise<void> {
    if (this.process) return;
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    child.once('exit', () => {
      if (this.process === child) this.process = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.process) throw new Error(`redis-server exited at start (port ${this.port})`);
      if (await ping(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`redis-server did not answer PING on port ${this.port} within 10 s`);
  }

  /** Kills the server (SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.paused) child.kill('SIGCONT');
    this.paused = false;
    child.kill('SIGKILL');
    await exited;
    this.process = undefined;
  }

  /** Freezes the server: connections stay open and nothing answers. */
  pause(): void {
    this.process?.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.process?.kill('SIGCONT');
    this.paused = false;
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
