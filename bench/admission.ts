/**
 * `admission` measures the validating webhook at 10 and 10,000 Ingresses (1 host × 3 paths each):
 *
 * - **in-process**: `decodeReview` → `IngressAdmission.review` → `encodeReview` + JSON, the work a
 *   review costs apart from HTTP and TLS, one review at a time;
 * - **HTTPS**: the real server (`createAdmissionServer`, self-signed certificate from openssl) with a
 *   keep-alive node:https client in the same process, as the API server would call it.
 *
 * The review mix is a third each: CREATE of a new host (allowed), CREATE colliding with an existing
 * Ingress's path (denied), UPDATE of an existing owner (allowed). The claim under test: a review's
 * cost does not depend on cluster size, because only the reviewed object is translated and paths are
 * looked up in the index `onModel` builds.
 *
 * Run: `npx tsx bench/admission.ts [--reviews N] [--https-seconds S] [--no-results]`. Writes the
 * section "## Admission" of bench/RESULTS.md (other sections are kept).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { IngressAdmission } from '../src/admission/ingress-admission.js';
import { decodeReview, encodeReview } from '../src/admission/review.js';
import { createAdmissionServer } from '../src/admission/server.js';
import { PorticoMetrics } from '../src/metrics/registry.js';
import type { Ingress, IngressClass, KubeObject, Service } from '../src/model/objects.js';
import type { TranslateOptions } from '../src/model/translate/translate.js';
import { translate } from '../src/model/translate/translate.js';
import type { RoutingModel } from '../src/model/types.js';
import { ObjectStore } from '../src/store/object-store.js';
import { makeCertificate } from '../test/support/certs.js';
import { writeSection } from './lib/results.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsPath = resolve(benchDir, 'RESULTS.md');
const HEADING = '## Admission';

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '30000' },
    'https-seconds': { type: 'string', default: '4' },
    connections: { type: 'string', default: '4' },
    'no-results': { type: 'boolean', default: false },
  },
});
const REVIEWS = Number(values.reviews);
const HTTPS_SECONDS = Number(values['https-seconds']);
const CONNECTIONS = Number(values.connections);
const SIZES = [10, 10_000] as const;

const OPTIONS: TranslateOptions = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
};

function host(i: number): string {
  return `app-${String(i).padStart(5, '0')}.bench.portico.test`;
}

function benchIngress(name: string, hostName: string, created: string): Ingress {
  const backend = { service: { name: 'web', port: { number: 80 } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'bench', creationTimestamp: created, uid: `uid-${name}` },
    spec: {
      ingressClassName: 'portico',
      rules: [
        {
          host: hostName,
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend },
              { path: '/api/v1', pathType: 'Prefix', backend },
              { path: '/healthz', pathType: 'Exact', backend },
            ],
          },
        },
      ],
    },
  };
}

interface Cluster {
  readonly store: ObjectStore;
  readonly model: RoutingModel;
  readonly ingresses: readonly Ingress[];
  readonly translateMs: number;
}

function cluster(n: number): Cluster {
  const store = new ObjectStore();
  const cls: IngressClass = {
    kind: 'IngressClass',
    metadata: { name: 'portico' },
    spec: { controller: OPTIONS.controllerClass },
  };
  const web: Service = {
    kind: 'Service',
    metadata: { name: 'web', namespace: 'bench' },
    spec: { ports: [{ name: 'http', port: 80 }] },
  };
  const objects: KubeObject[] = [cls, web];
  const ingresses: Ingress[] = [];
  for (let i = 0; i < n; i++) {
    const created = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
    ingresses.push(benchIngress(`app-${i}`, host(i), created));
  }
  for (const o of [...objects, ...ingresses]) store.upsert(o);
  const t0 = performance.now();
  const model = translate(
    {
      ingresses: store.list('Ingress'),
      ingressClasses: store.list('IngressClass'),
      services: store.list('Service'),
    },
    OPTIONS,
  );
  return { store, model, ingresses, translateMs: performance.now() - t0 };
}

function review(uid: string, operation: 'CREATE' | 'UPDATE', object: Ingress, oldObject?: Ingress): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' },
      resource: { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' },
      name: object.metadata.name,
      namespace: 'bench',
      operation,
      userInfo: { username: 'bench' },
      object,
      oldObject: oldObject ?? null,
      dryRun: false,
    },
  });
}

/** `bodies` makes the review mix, spread over the whole cluster so no Ingress is special. */
function bodies(c: Cluster, count: number): string[] {
  const out: string[] = [];
  const n = c.ingresses.length;
  const now = '2026-01-01T00:00:00Z';
  for (let k = 0; k < count; k++) {
    const i = (k * 7919) % n; // a prime stride touches every Ingress
    const existing = c.ingresses[i]!;
    switch (k % 3) {
      case 0:
        out.push(review(`r${k}`, 'CREATE', benchIngress(`new-${k}`, `new-${k}.bench.portico.test`, now)));
        break;
      case 1:
        out.push(review(`r${k}`, 'CREATE', benchIngress(`thief-${k}`, host(i), now)));
        break;
      default:
        out.push(review(`r${k}`, 'UPDATE', existing, existing));
    }
  }
  return out;
}

interface Figures {
  readonly reviewsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly count: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function figures(latenciesUs: Float64Array, seconds: number): Figures {
  const sorted = Float64Array.from(latenciesUs).sort();
  return {
    reviewsPerSecond: latenciesUs.length / seconds,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    count: latenciesUs.length,
  };
}

function inProcess(c: Cluster): { figures: Figures; indexMs: number; outcomes: Record<string, number> } {
  const admission = new IngressAdmission({
    translate: OPTIONS,
    store: c.store,
    currentModel: () => undefined,
  });
  const t0 = performance.now();
  admission.onModel(c.model);
  const indexMs = performance.now() - t0;
  const mix = bodies(c, 3_000);
  const outcomes: Record<string, number> = { allowed: 0, denied: 0 };
  const run = (count: number, record?: Float64Array): void => {
    for (let k = 0; k < count; k++) {
      const start = process.hrtime.bigint();
      const decoded = decodeReview(mix[k % mix.length]!);
      if (!decoded.ok) throw new Error(decoded.message);
      const { verdict } = admission.review(decoded.request);
      JSON.stringify(encodeReview(decoded.request.uid, verdict));
      if (record) {
        record[k] = Number(process.hrtime.bigint() - start) / 1_000;
        outcomes[verdict.allowed ? 'allowed' : 'denied']! += 1;
      }
    }
  };
  run(Math.min(REVIEWS, 5_000)); // warm-up: JIT
  const latencies = new Float64Array(REVIEWS);
  const started = performance.now();
  run(REVIEWS, latencies);
  const seconds = (performance.now() - started) / 1_000;
  return { figures: figures(latencies, seconds), indexMs, outcomes };
}

function makeCert(dir: string): void {
  const pair = makeCertificate('portico-admission', { keyType: 'ecdsa', ips: ['127.0.0.1'] });
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key);
}

async function overHttps(c: Cluster, certDir: string): Promise<Figures> {
  const server = createAdmissionServer({
    listen: { host: '127.0.0.1', port: 0 },
    certDir,
    logger: pino({ level: 'silent' }),
    metrics: new PorticoMetrics({ processMetrics: false }),
    translate: OPTIONS,
    store: c.store,
    currentModel: () => c.model,
  });
  const { port } = await server.start();
  const ca = readFileSync(join(certDir, 'tls.crt'));
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, ca });
  const mix = bodies(c, 3_000);
  const post = (body: string): Promise<void> =>
    new Promise((resolvePost, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/networking/v1/ingresses',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolvePost() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const latencies: number[] = [];
  const loop = async (worker: number, until: number, record: boolean): Promise<void> => {
    let k = worker;
    while (performance.now() < until) {
      const start = process.hrtime.bigint();
      await post(mix[k % mix.length]!);
      if (record) latencies.push(Number(process.hrtime.bigint() - start) / 1_000);
      k += CONNECTIONS;
    }
  };
  const workers = async (seconds: number, record: boolean): Promise<void> => {
    const until = performance.now() + seconds * 1_000;
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => loop(w, until, record)));
  };
  await workers(1, false); // warm-up: handshakes, JIT
  const started = performance.now();
  await workers(HTTPS_SECONDS, true);
  const seconds = (performance.now() - started) / 1_000;
  agent.destroy();
  await server.close();
  return figures(Float64Array.from(latencies), seconds);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function main(): Promise<void> {
  const certDir = mkdtempSync(join(os.tmpdir(), 'portico-bench-admission-'));
  const rows: string[] = [];
  const results: { n: number; local: Figures; https: Figures }[] = [];
  try {
    makeCert(certDir);
    for (const n of SIZES) {
      const c = cluster(n);
      const local = inProcess(c);
      const https = await overHttps(c, certDir);
      results.push({ n, local: local.figures, https });
      console.error(
        `${n} Ingresses: in-process ${fmt(local.figures.reviewsPerSecond)} reviews/s p99 ${fmt(local.figures.p99Us, 1)} µs; ` +
          `HTTPS ${fmt(https.reviewsPerSecond)} reviews/s p99 ${fmt(https.p99Us)} µs ` +
          `(translate ${fmt(c.translateMs, 1)} ms, index ${fmt(local.indexMs, 1)} ms, ${JSON.stringify(local.outcomes)})`,
      );
      rows.push(
        `| ${fmt(n)} | ${fmt(c.model.routes.length)} | ${fmt(local.indexMs, 1)} | ${fmt(local.figures.reviewsPerSecond)} | ${fmt(local.figures.p50Us, 1)} | ${fmt(local.figures.p99Us, 1)} | ${fmt(https.reviewsPerSecond)} | ${fmt(https.p50Us)} | ${fmt(https.p99Us)} |`,
      );
    }
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }
  const small = results[0]!;
  const large = results[results.length - 1]!;
  const ratio = large.local.p99Us / small.local.p99Us;
  const load = os.loadavg().map((l) => l.toFixed(2));
  const section = [
    HEADING,
    '',
    `_Generated ${new Date().toISOString()} by \`npx tsx bench/admission.ts\` (${fmt(REVIEWS)} in-process reviews, ${HTTPS_SECONDS} s of HTTPS with ${CONNECTIONS} keep-alive connections per size)._`,
    '',
    `- **Machine**: ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores (shared with other work; load average at end ${load.join(' / ')}), Node ${process.version}`,
    '- **Cluster**: N Ingresses of class `portico`, each 1 host × 3 paths (Prefix `/`, Prefix `/api/v1`, Exact `/healthz`) → 1 Service; the index is built by `onModel` from the translated model',
    "- **Review mix**: ⅓ CREATE of a new host (allowed), ⅓ CREATE claiming an existing Ingress's host+paths (denied, 3 collisions listed), ⅓ UPDATE of an existing owner (allowed); the reviewed Ingresses are spread over the whole cluster",
    '- **In-process** = `decodeReview` + `IngressAdmission.review` + `encodeReview` + `JSON.stringify`, one at a time after a warm-up; **HTTPS** = the real `createAdmissionServer` (self-signed P-256 certificate) and a node:https keep-alive client in the same process (the client shares the core, so these figures are a floor)',
    '',
    '| Ingresses | routes | index build ms | in-process reviews/s | p50 µs | p99 µs | HTTPS reviews/s | p50 µs | p99 µs |',
    '| --------: | -----: | -------------: | -------------------: | -----: | -----: | --------------: | -----: | -----: |',
    ...rows,
    '',
    `A review's cost does not depend on cluster size: in-process p99 at ${fmt(large.n)} Ingresses is ${ratio.toFixed(2)}× the p99 at ${fmt(small.n)} (only the reviewed object is translated; each of its paths is one map look-up). The index rebuild on every published model is the only cost that grows with the cluster.`,
    '',
  ].join('\n');
  console.log(section);
  if (!values['no-results']) {
    writeSection(resultsPath, HEADING, section);
    console.error(`wrote ${resultsPath}`);
  }
}

await main();
