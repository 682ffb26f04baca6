/**
 * `tls-default-cert` measures what the generated default TLS certificate costs: the generation
 * itself (ECDSA P-256 as the listener serves it, RSA-2048 for comparison) in this process, and in
 * real `portico` processes (file mode, empty folder), where it runs synchronously while the data
 * plane is created, so its time is exactly what it adds to start-up. Budget: under 100 ms added.
 * Needs `npm run build` first.
 * Run: `npx tsx bench/tls-default-cert.ts [--runs N] [--starts N]`; writes the
 * "## TLS default certificate" section of bench/RESULTS.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDefaultCertificate, generateRsaCertificate } from '../src/tls/default-certificate.js';
import { writeSection } from './lib/results.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, starts: { type: 'string', default: '10' } },
});
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 30);
const starts = Math.max(1, Number.parseInt(values.starts, 10) || 10);
const BUDGET_MS = 100;
const benchDir = dirname(fileURLToPath(import.meta.url));
const MAIN = join(benchDir, '..', 'dist', 'cli', 'main.js');

function quantiles(samples: number[]): { median: number; p90: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { median: at(0.5), p90: at(0.9), max: s[s.length - 1] ?? 0 };
}

async function timed(fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** One `portico` start: the "default TLS certificate generated" line, then SIGKILL. */
function startOnce(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = [
      '--manifests',
      dir,
      '--http-port',
      '0',
      '--https-port',
      '0',
      '--admin-port',
      '0',
      '--log-level',
      'debug',
    ];
    const child = spawn(process.execPath, [MAIN, ...args, '--bind-address', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('no certificate line within 10 s'));
    }, 10_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; ms?: number };
        if (entry.msg === 'default TLS certificate generated') {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve(entry.ms ?? Number.NaN);
        }
      } catch {
        // not a log line
      }
    });
  });
}

const rsa = quantiles(await timed(() => generateRsaCertificate()));
const ecdsa = quantiles(await timed(() => generateDefaultCertificate()));
const dir = mkdtempSync(join(os.tmpdir(), 'portico-bench-tls-'));
const delays: number[] = [];
try {
  for (let i = 0; i < starts; i++) delays.push(await startOnce(dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const delay = quantiles(delays);
// node-forge is imported at start-up only for this certificate, so its load time counts too.
const forgeImports: number[] = [];
for (let i = 0; i < starts; i++) {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const t=performance.now();await import('node-forge');console.log(performance.now()-t)",
    ],
    { cwd: join(benchDir, '..'), encoding: 'utf8' },
  );
  forgeImports.push(Number.parseFloat(out));
}
const forgeImport = quantiles(forgeImports);
const added = quantiles(delays.map((d, i) => d + (forgeImports[i] ?? 0)));
const verdict = added.p90 < BUDGET_MS ? '✅ pass' : '❌ over budget';
const cpus = os.cpus();
const load = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' / ');
const f = (n: number): string => n.toFixed(1);

const section = `## TLS default certificate

_Generated ${new Date().toISOString()} by \`npx tsx bench/tls-default-cert.ts --runs ${runs} --starts ${starts}\`._

- **Machine**: ${cpus[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown'}, ${cpus.length} cores (load average ${load}), Node ${process.version}
- **What**: the listener's default certificate (src/tls/default-certificate.ts): ECDSA P-256 key pair from \`node:crypto\`, X.509 built by node-forge, signed by \`node:crypto\` (node-forge signs only with RSA, in JavaScript). RSA-2048 shown for comparison: its key generation alone is over budget.
- **Added to start-up**: ${starts} real \`portico\` starts (file mode, empty folder, \`--log-level debug\`): generation runs synchronously while the data plane is created, so the \`ms\` of its log line is what it adds.

| measurement | median ms | p90 ms | max ms |
|---|---:|---:|---:|
| RSA-2048 certificate (comparison), in this process (${runs} runs) | ${f(rsa.median)} | ${f(rsa.p90)} | ${f(rsa.max)} |
| ECDSA P-256 certificate, in this process (${runs} runs) | ${f(ecdsa.median)} | ${f(ecdsa.p90)} | ${f(ecdsa.max)} |
| ECDSA P-256 inside \`portico\`, first call (${starts} starts) | ${f(delay.median)} | ${f(delay.p90)} | ${f(delay.max)} |
| node-forge import in a fresh \`node\` (${starts} runs) | ${f(forgeImport.median)} | ${f(forgeImport.p90)} | ${f(forgeImport.max)} |
| **added to start-up** (first call + import) | ${f(added.median)} | ${f(added.p90)} | ${f(added.max)} |

Budget: under ${BUDGET_MS} ms added to start-up (p90): ${verdict}.
`;

writeSection(join(benchDir, 'RESULTS.md'), '## TLS default certificate', section);
process.stdout.write(section);
