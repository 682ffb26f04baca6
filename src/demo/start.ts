/**
 * `start` is `npm start`: a self-contained demo. It starts echo "pods" on fixed loopback ports
 * (the EndpointSlices in examples/demo point at them), runs the compiled `portico` command against
 * examples/demo, prints its logs in a readable form, and prints requests to try. Ctrl-C stops
 * everything.
 *
 * Portico runs in this process (the same `main` as dist/cli/main.js) rather than as a child:
 * spawning processes is reserved to src/l4/apply (DESIGN §6, test/unit/architecture.test.ts), and
 * one process means one Ctrl-C stops pods and proxy together.
 */
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { main } from '../cli/cli.js';
import { type EchoBackend, startEchoBackend } from './echo-backend.js';

/** `DEMO_PODS` must match the EndpointSlices in examples/demo/services.yaml. */
export const DEMO_PODS = [
  { name: 'web-1', host: '127.0.0.1', port: 9001 },
  { name: 'web-2', host: '127.0.0.1', port: 9002 },
  { name: 'api-1', host: '127.0.0.1', port: 9003 },
] as const;

const HTTP_PORT = 8080;
const ADMIN_PORT = 10254;

// Resolved from this file (dist/demo/start.js), so `npm start` works from any working directory.
const manifests = fileURLToPath(new URL('../../examples/demo', import.meta.url));

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const QUIET_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'app', 'msg', 'component']);

/** `formatLogLine` turns one pino JSON line into a short human line; non-JSON passes through. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) return `[portico] ${line}`;
    entry = parsed as Record<string, unknown>;
  } catch {
    return `[portico] ${line}`;
  }
  const level = LEVELS[Number(entry['level'])] ?? 'LOG';
  const fields = Object.entries(entry)
    .filter(([k, v]) => !QUIET_FIELDS.has(k) && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `[portico] ${level.padEnd(5)} ${String(entry['msg'] ?? '')}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`;
}

function tryThis(): string {
  const base = `http://127.0.0.1:${HTTP_PORT}`;
  const admin = `http://127.0.0.1:${ADMIN_PORT}`;
  const examples: [string, string][] = [
    [`curl -H 'Host: demo.localhost' ${base}/`, 'Prefix / → Service web (web-1, web-2 take turns)'],
    [`curl -H 'Host: demo.localhost' ${base}/api/users`, 'Prefix /api → Service api'],
    [`curl -H 'Host: demo.localhost' ${base}/healthz`, 'Exact /healthz → Service api'],
    [`curl -H 'Host: shop.apps.localhost' ${base}/`, 'wildcard host *.apps.localhost → Service api'],
    [`curl ${base}/anything`, 'no rule matches → default backend (Service web)'],
    [`curl ${admin}/routes`, 'the routing table, with diagnostics'],
    [`curl ${admin}/readyz`, 'readiness'],
  ];
  const width = Math.max(...examples.map(([cmd]) => cmd.length));
  return [
    '',
    'Portico is routing. Try:',
    ...examples.map(([cmd, what]) => `  ${cmd.padEnd(width)}  # ${what}`),
    '',
    `Edit ${manifests}/*.yaml while this runs: changes apply live (a broken edit keeps the last good config).`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

async function run(): Promise<number> {
  const pods: EchoBackend[] = [];
  try {
    for (const pod of DEMO_PODS) pods.push(await startEchoBackend(pod));
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    await Promise.all(pods.map((p) => p.close()));
    return 1;
  }
  process.stdout.write(`demo: echo pods up: ${pods.map((p) => `${p.name} ${p.url}`).join(', ')}\n`);

  // Pretty-print portico's JSON log lines; the "listening" line is the cue to print the examples.
  let pending = '';
  const pretty = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        process.stdout.write(`${formatLogLine(line)}\n`);
        if (line.includes('"msg":"listening"')) process.stdout.write(tryThis());
      }
      done();
    },
  });
  const logger = pino(
    { level: 'info', base: { app: 'portico' }, timestamp: pino.stdTimeFunctions.isoTime },
    pretty,
  );

  const code = await main(
    [
      '--manifests',
      manifests,
      '--http-port',
      String(HTTP_PORT),
      '--https-port',
      '8443',
      '--admin-port',
      String(ADMIN_PORT),
      // Loopback only: the demo routes to local processes and should not be reachable from outside.
      '--bind-address',
      '127.0.0.1',
    ],
    { logger },
  );
  await Promise.all(pods.map((p) => p.close()));
  if (code !== 0) process.stderr.write(`demo: portico stopped with exit code ${code}\n`);
  return code;
}

run().then(
  (code) => {
    // As the portico bin does after serving: lingering keep-alive sockets must not hold the process.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
