/**
 * The L4 path's diagnostics in a running portico (file mode, user space on loopback): a rejected
 * L4Route and a rejected tcp-services entry count in `portico_config_rejected_objects` and show,
 * with object and field, under `l4` in `/routes`; fixing them brings the counts back to 0. And
 * `--redirect-privileged-ports` at the command line: a usage error (exit 2, saying why) with the
 * user-space mode, the REDIRECT rules in `portico l4-rules` with a kernel mode.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  runPortico,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { freePort } from '../../support/redis.js';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const backend = `apiVersion: v1
kind: Service
metadata: { name: pg, namespace: db }
spec:
  ports: [{ port: 5432, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: pg-1, namespace: db, labels: { kubernetes.io/service-name: pg } }
addressType: IPv4
ports: [{ port: 15432, protocol: TCP }]
endpoints:
  - addresses: [127.0.0.2]
`;

const tcpServices = (data: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: tcp-services, namespace: ingress }
data:
${data}
`;

const badRoute = `apiVersion: portico.dev/v1alpha1
kind: L4Route
metadata: { name: broken, namespace: db }
spec:
  listenPort: 0
  backend: { service: pg, port: 5432 }
`;

describe('L4 diagnostics in /metrics and /routes (file mode)', () => {
  let dir: ManifestDir;
  let portico: PorticoProcess;
  let listen = 0;

  before(async () => {
    listen = await freePort();
    dir = await manifestDir({
      'backend.yaml': backend,
      'tcp.yaml': tcpServices(`  "${listen}": "db/pg:5432"\n  "70000": "db/pg:5432"`),
      'route.yaml': badRoute,
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--tcp-services-configmap', 'ingress/tcp-services', '--bind-address', '127.0.0.1'],
    });
  });

  after(async () => {
    await portico?.stop();
    await dir?.cleanup();
  });

  test('the rejected route and entry count in portico_config_rejected_objects', async () => {
    const metrics = (await get(portico.adminPort, '/metrics')).body;
    assert.equal(sample(metrics, 'portico_config_rejected_objects{kind="L4Route"}'), 1);
    assert.equal(sample(metrics, 'portico_config_rejected_objects{kind="ServicesConfigMapEntry"}'), 1);
  });

  test('/routes shows the L4 path: the served service, the route verdict and the diagnostics with file and field', async () => {
    const routes = JSON.parse((await get(portico.adminPort, '/routes')).body) as {
      l4?: {
        mode: string;
        services: { name: string; listenPort: number }[];
        routes: Record<string, { accepted: boolean; reason: string }>;
        diagnostics: { severity: string; object: string; field: string; source?: string }[];
      };
    };
    const l4 = routes.l4;
    assert.ok(l4, '/routes has an l4 section');
    assert.equal(l4.mode, 'userspace');
    assert.deepEqual(
      l4.services.map((s) => [s.name, s.listenPort]),
      [['db/pg:5432/TCP', listen]],
    );
    assert.equal(l4.routes['db/broken']?.accepted, false);
    assert.equal(l4.routes['db/broken']?.reason, 'Invalid');
    const errors = l4.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors.map((d) => `${d.object} ${d.field}`).sort(), [
      'ConfigMap ingress/tcp-services data["70000"]',
      'L4Route db/broken spec.listenPort',
    ]);
    assert.ok(
      errors.every((d) => /\.yaml:\d+:\d+$/.test(d.source ?? '')),
      'file mode names the manifest line of each rejection',
    );
  });

  test('fixing the entry and removing the route bring both counts back to 0', async () => {
    await dir.write('tcp.yaml', tcpServices(`  "${listen}": "db/pg:5432"`));
    await dir.remove('route.yaml');
    await waitUntil(
      async () => {
        const metrics = (await get(portico.adminPort, '/metrics')).body;
        return (
          sample(metrics, 'portico_config_rejected_objects{kind="L4Route"}') === 0 &&
          sample(metrics, 'portico_config_rejected_objects{kind="ServicesConfigMapEntry"}') === 0
        );
      },
      10_000,
      'rejected L4 objects back to 0',
    );
  });
});

describe('--redirect-privileged-ports at the command line', () => {
  test('with the user-space L4 mode it is a usage error saying why (exit 2)', async () => {
    const r = await runPortico([
      '--manifests',
      'test/fixtures/l4-rules-clean',
      '--redirect-privileged-ports',
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--redirect-privileged-ports needs a kernel --l4-mode \(iptables, ipvs or nftables\)/,
    );
  });

  test('portico l4-rules prints the REDIRECT rules of a kernel mode', async () => {
    const r = await runPortico([
      'l4-rules',
      '--mode',
      'iptables',
      '--manifests',
      'test/fixtures/l4-rules-clean',
      '--tcp-services-configmap',
      'ingress/tcp-services',
      '--redirect-privileged-ports',
      '--http-port',
      '8080',
      '--https-port',
      '8443',
    ]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^-A PORTICO-REDIRECTS .*--dport 80 -j REDIRECT --to-ports 8080$/m);
    assert.match(r.stdout, /^-A PORTICO-REDIRECTS .*--dport 443 -j REDIRECT --to-ports 8443$/m);
  });
});
