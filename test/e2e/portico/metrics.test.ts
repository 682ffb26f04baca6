import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ingress, ingressClass, service, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { yamlOf } from './helpers.js';

let dir: ManifestDir;
let portico: PorticoProcess;

/** `sample` reads one sample's value from Prometheus text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

before(async () => {
  dir = await manifestDir({
    'good.yaml': yamlOf(
      ingressClass('portico').build(),
      service('web').port(80).build(),
      ingress('good').cls('portico').host('a.test').prefix('/', svc('web', 80)).build(),
      // A broken reference: Service "missing" does not exist.
      ingress('dangling').cls('portico').host('b.test').prefix('/', svc('missing', 80)).build(),
    ),
  });
  portico = await startPortico({ manifests: dir.dir });
});

after(async () => {
  await portico.stop();
  await dir.cleanup();
});

test('/metrics exposes config rebuilds, rejected objects and broken references', async () => {
  const first = await get(portico.adminPort, '/metrics');
  assert.equal(first.status, 200);
  assert.match(String(first.headers['content-type']), /^text\/plain/);
  assert.equal(sample(first.body, 'portico_config_rebuilds_total{outcome="published"}'), 1);
  assert.equal(sample(first.body, 'portico_config_rejected_objects{kind="Ingress"}'), 0);
  assert.equal(sample(first.body, 'portico_config_broken_references'), 1);
  assert.ok((sample(first.body, 'portico_config_last_success_timestamp_seconds') ?? 0) > 1.7e9);
  assert.ok(first.body.includes('portico_process_cpu_seconds_total'), 'process metrics are exported');

  // An invalid path rejects the Ingress; the gauge follows.
  await dir.write(
    'bad.yaml',
    yamlOf(ingress('bad').cls('portico').host('c.test').prefix('no-leading-slash', svc('web', 80)).build()),
  );
  await waitUntil(
    async () =>
      sample(
        (await get(portico.adminPort, '/metrics')).body,
        'portico_config_rejected_objects{kind="Ingress"}',
      ) === 1,
    10_000,
    'rejected objects gauge reaches 1',
  );
});
