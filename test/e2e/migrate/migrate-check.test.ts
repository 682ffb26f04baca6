/**
 * `portico migrate-check` through the built CLI: a manifests folder and a live cluster (the fake
 * API server, all namespaces), text and JSON output, and the exit codes (0 nothing refused or
 * unknown, 1 something is, 2 bad usage). Expected statuses come from `annotationVerdict`, so the
 * tests hold while other families land.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MigrationReport } from '../../../src/migrate/report.js';
import { annotationVerdict, failsMigration, STATUS_LABELS } from '../../../src/migrate/status.js';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { runPortico } from '../../support/portico-process.js';

const N = 'nginx.ingress.kubernetes.io/';
const mixed = 'test/fixtures/migrate-check/mixed';
const clean = 'test/fixtures/migrate-check/clean';
const mixedKeys = {
  'ops/metrics': [`${N}enable-influxdb`, `${N}ssl-redirect`],
  'shop/web': [
    `${N}backend-protocol`,
    `${N}configuration-snippet`,
    `${N}ssl-redirect`,
    `${N}whitelist-source-range`,
  ],
} as const;

describe('portico migrate-check --manifests', () => {
  test('text: every annotation of every Ingress with its status, exit 1 when one is refused or unknown', async () => {
    const r = await runPortico(['migrate-check', '--manifests', mixed]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '');
    for (const [name, keys] of Object.entries(mixedKeys)) {
      assert.match(r.stdout, new RegExp(`^Ingress ${name} \\(${mixed}/ingresses\\.yaml:\\d+:\\d+\\)$`, 'm'));
      for (const key of keys) {
        const line = r.stdout.split('\n').find((l) => l.startsWith(`  ${key}: `));
        assert.ok(line?.startsWith(`  ${key}: ${STATUS_LABELS[annotationVerdict(key).status]}`), line);
      }
    }
    assert.doesNotMatch(r.stdout, /kubernetes\.io\/ingress\.class/);
    assert.match(r.stdout, /configuration-snippet: refused — snippets are configuration code/);
    assert.match(r.stdout, /invalid value, the Ingress would be rejected: "maybe"/);
  });

  test('json: the documented shape, sorted, with sources', async () => {
    const r = await runPortico(['migrate-check', '--manifests', mixed, '--output', 'json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as MigrationReport;
    assert.equal(report.ingressNginx, 'controller-v1.15.1');
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.ingresses.map((i) => [i.ingress, i.annotations.map((a) => a.key)]),
      Object.entries(mixedKeys).map(([name, keys]) => [name, [...keys]]),
    );
    for (const a of report.ingresses.flatMap((i) => i.annotations)) {
      const { key, ...verdict } = annotationVerdict(a.key);
      assert.equal(a.status, verdict.status, key);
      assert.equal(a.portico, verdict.portico, key);
      assert.equal(a.difference, verdict.difference, key);
      assert.match(a.source ?? '', /ingresses\.yaml:\d+:\d+$/);
    }
    const all = report.ingresses.flatMap((i) => i.annotations);
    for (const status of ['supported', 'supported-with-difference', 'refused', 'unknown'] as const) {
      assert.equal(report.counts[status], all.filter((a) => a.status === status).length);
    }
  });

  test('a folder with nothing refused or unknown exits 0', async () => {
    const r = await runPortico(['migrate-check', '--manifests', clean]);
    const keys = [`${N}ssl-redirect`, 'portico.dev/ssl-redirect'];
    // Holds as long as these stay supported; it says so if a table ever changes that.
    assert.ok(keys.every((k) => !failsMigration(annotationVerdict(k).status)));
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /Nothing is refused or unknown/);
    assert.doesNotMatch(r.stdout, /argocd/);
  });

  const usageErrors = [
    { name: 'no source', args: [], match: /exactly one of --manifests DIR and --kubeconfig PATH/ },
    {
      name: 'both sources',
      args: ['--manifests', clean, '--kubeconfig', '/nonexistent'],
      match: /exactly one of/,
    },
    {
      name: 'an unknown output format',
      args: ['--manifests', clean, '--output', 'yaml'],
      match: /text or json/,
    },
    { name: 'an unknown flag', args: ['--manifests', clean, '--bogus'], match: /bogus/ },
    { name: 'a missing folder', args: ['--manifests', '/nonexistent/portico'], match: /cannot be read/ },
    {
      name: 'an unreadable kubeconfig',
      args: ['--kubeconfig', '/nonexistent/kubeconfig'],
      match: /kubeconfig/,
    },
  ];
  for (const u of usageErrors) {
    test(`${u.name} is a usage error (exit 2)`, async () => {
      const r = await runPortico(['migrate-check', ...u.args]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, u.match);
      assert.equal(r.stdout, '');
    });
  }

  test('--help prints the usage and exits 0', async () => {
    const r = await runPortico(['migrate-check', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: portico migrate-check/);
  });
});

describe('portico migrate-check --kubeconfig', () => {
  let server: FakeApiServer;
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    server = await startFakeApiServer();
    dir = await mkdtemp(join(tmpdir(), 'portico-migrate-'));
    kubeconfig = await server.writeKubeconfig(dir);
    for (const ns of ['shop', 'ops'])
      server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const ingressIn = (namespace: string, name: string, annotations: Record<string, string>) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace, annotations },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: `${name}.example`,
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    });
    server.create(ingressIn('shop', 'web', { [`${N}ssl-redirect`]: 'true', [`${N}server-snippet`]: 'x' }));
    server.create(ingressIn('ops', 'metrics', { [`${N}enable-influxdb`]: 'true' }));
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('lists the Ingresses of every namespace with their statuses', async () => {
    const r = await runPortico(['migrate-check', '--kubeconfig', kubeconfig, '--output', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as MigrationReport;
    assert.deepEqual(
      report.ingresses.map((i) => [i.ingress, i.annotations.map((a) => [a.key, a.status])]),
      [
        ['ops/metrics', [[`${N}enable-influxdb`, annotationVerdict(`${N}enable-influxdb`).status]]],
        [
          'shop/web',
          [
            [`${N}server-snippet`, 'refused'],
            [`${N}ssl-redirect`, annotationVerdict(`${N}ssl-redirect`).status],
          ],
        ],
      ],
    );
    // Cluster mode has no file positions.
    assert.ok(report.ingresses.every((i) => i.source === undefined));
    // One read-only list across all namespaces: nothing else is asked of the API server.
    const ingressRequests = server.requests.filter((q) => q.resource === 'ingresses');
    assert.ok(ingressRequests.length >= 1);
    assert.ok(ingressRequests.every((q) => q.verb === 'list' && q.namespace === undefined));
  });

  test('an unreachable API server exits 1 and says so', async () => {
    const closed = await startFakeApiServer();
    const closedDir = await mkdtemp(join(tmpdir(), 'portico-migrate-'));
    const path = await closed.writeKubeconfig(closedDir);
    await closed.close();
    try {
      const r = await runPortico(['migrate-check', '--kubeconfig', path], 60_000);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot list Ingresses/);
    } finally {
      await rm(closedDir, { recursive: true, force: true });
    }
  });
});
