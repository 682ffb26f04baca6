/**
 * `cli` is the `portico` command: parse flags, pick the mode, run, exit with a meaningful code
 * (0 clean shutdown, 1 runtime failure, 2 bad usage). `main.ts` is the thin bin entry; the demo
 * calls `main` in-process.
 */
import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '../log/logger.js';
import { useCipherCheck } from '../model/settings/tls.js';
import { createDataPlane } from '../proxy/data-plane.js';
import { opensslCipherCheck } from '../proxy/tls-settings.js';
import { runCleanup } from './cleanup.js';
import { runExplain } from './explain.js';
import { FlagError, helpText, parseFlags } from './flags.js';
import { runL4Rules } from './l4-rules.js';
import { runMigrateCheck } from './migrate-check.js';
import { runCluster } from './run-cluster.js';
import { EXIT_USAGE, runFiles } from './run-files.js';

/** `packageVersion` reads the version from package.json, two levels up from `dist/cli` or `src/cli`. */
export function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  return typeof version === 'string' ? version : 'unknown';
}

export interface MainOptions {
  /** A logger to use instead of one built from `--log-level` (the demo formats lines itself). */
  readonly logger?: Logger;
}

/** `main` runs the CLI with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  // ssl-ciphers (flag and ConfigMap) is checked by OpenSSL itself, which the model cannot load.
  useCipherCheck(opensslCipherCheck);
  if (argv[0] === 'explain') {
    // Logs go to stderr at warn: stdout carries the report.
    const logger = options.logger ?? createLogger({ level: 'warn', destination: 2 });
    const code = await runExplain(argv.slice(1), logger);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    return code;
  }
  if (argv[0] === 'l4-rules') {
    // stdout carries the payload; logs and diagnostics go to stderr.
    const logger = options.logger ?? createLogger({ level: 'warn', destination: 2 });
    const code = await runL4Rules(argv.slice(1), logger);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    return code;
  }
  if (argv[0] === 'migrate-check') {
    // stdout carries the report; logs go to stderr.
    const logger = options.logger ?? createLogger({ level: 'warn', destination: 2 });
    const code = await runMigrateCheck(argv.slice(1), logger);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    return code;
  }
  if (argv[0] === 'cleanup') {
    // No logger: the per-part report goes to stdout, tool errors verbatim to stderr.
    return runCleanup(argv.slice(1));
  }
  let command: ReturnType<typeof parseFlags>;
  try {
    command = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`portico: ${err.message}\nRun 'portico --help' for usage.\n`);
    return EXIT_USAGE;
  }
  if (command.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  if (command.kind === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const { config } = command;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const code =
    config.manifests === undefined
      ? await runCluster(config, { createDataPlane, logger })
      : await runFiles({ ...config, manifests: config.manifests }, { createDataPlane, logger });
  // pino writes asynchronously; flush so the last lines ("stopped", startup errors) are not lost.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return code;
}

/**
 * `runMain` runs `main` as the process's entry point and exits with its code. After a server run
 * it exits explicitly, so keep-alive sockets or timers left by a dependency cannot hold the process
 * after shutdown; short commands only set the code, so piped `--help` output is never cut off.
 */
export function runMain(argv: readonly string[]): void {
  const serves = (() => {
    try {
      // `explain` and `migrate-check` load sources whose sockets and timers would keep the process alive.
      if (argv[0] === 'explain' || argv[0] === 'migrate-check') return true;
      const c = parseFlags(argv);
      return c.kind === 'run';
    } catch {
      return false;
    }
  })();
  main(argv).then(
    (code) => {
      if (serves) process.exit(code);
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `portico: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
