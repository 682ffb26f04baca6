/**
 * Snippet refusal and ignored annotations through the built binary in file mode: an edit that adds
 * a `*-snippet` annotation is rejected (the last good version keeps serving, `/routes` names the
 * annotation), and an unknown annotation is served without, shown on `/routes` on every run and
 * logged once as "annotation ignored".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { IngressReport } from '../../../src/model/types.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  routedTo,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io/';

interface Routes {
  diagnostics: Diagnostic[];
  ingresses: IngressReport[];
}

async function routes(p: PorticoProcess): Promise<Routes> {
  return JSON.parse((await get(p.adminPort, '/routes')).body) as Routes;
}

function shop(service: string, annotations: Record<string, string> = {}): string {
  let b = ingress('shop').cls('portico');
  for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
  return yamlOf(b.host('shop.test').prefix('/', svc(service, 80)).build());
}

describe('snippets and ignored annotations in file mode', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web', 'api');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'shop.yaml': shop('web', { [`${N}enable-influxdb`]: 'true' }),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('an unknown annotation is served without, listed on /routes and logged once as ignored', async () => {
    assert.equal(await routedTo(portico.httpPort, 'shop.test', '/'), 'web');
    const r = await routes(portico);
    const unknown = r.diagnostics.filter((d) => d.code === 'PORTICO_WARN_ANNOTATION_UNKNOWN');
    assert.deepEqual(
      unknown.map((d) => [d.object, d.field]),
      [['Ingress default/shop', `metadata.annotations["${N}enable-influxdb"]`]],
    );
    assert.match(unknown[0]?.message ?? '', /is ignored/);
    assert.match(unknown[0]?.source ?? '', /shop\.yaml:\d+:\d+$/);
    const line = await portico.waitForLog((e) => e.msg === 'annotation ignored');
    assert.equal(line['field'], `metadata.annotations["${N}enable-influxdb"]`);
  });

  test('an edit adding a snippet is rejected: the last good version keeps serving, /routes names it', async () => {
    await dir.write(
      'shop.yaml',
      shop('api', { [`${N}enable-influxdb`]: 'true', [`${N}configuration-snippet`]: 'return 200 "owned";' }),
    );
    let r: Routes | undefined;
    await waitUntil(
      async () => {
        r = await routes(portico);
        return r.ingresses.some((i) => i.ingress === 'default/shop' && i.state === 'rejected');
      },
      10_000,
      'shop rejected',
    );
    const report = r?.ingresses.find((i) => i.ingress === 'default/shop');
    assert.equal(report?.servingLastGood, true);
    const refused = r?.diagnostics.filter((d) => d.code === 'PORTICO_ERR_ANNOTATION_INVALID') ?? [];
    assert.deepEqual(
      refused.map((d) => [d.severity, d.field]),
      [['error', `metadata.annotations["${N}configuration-snippet"]`]],
    );
    assert.match(refused[0]?.message ?? '', /snippets are configuration code; Portico never runs them/);
    // The previous version (backend web, no snippet) still answers.
    assert.equal(await routedTo(portico.httpPort, 'shop.test', '/'), 'web');
    // Reloads did not repeat the ignored-annotation line.
    assert.equal(portico.logs.filter((e) => e.msg === 'annotation ignored').length, 1);
  });

  test('removing the snippet serves the edit', async () => {
    await dir.write('shop.yaml', shop('api'));
    await waitUntil(
      async () => (await routedTo(portico.httpPort, 'shop.test', '/')) === 'api',
      10_000,
      'shop → api',
    );
    const r = await routes(portico);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.object === 'Ingress default/shop'),
      [],
    );
  });
});
