/**
 * Unknown annotations are logged once per appearance as "annotation ignored", not on every reload,
 * and the per-load line does not repeat them; the model (`/routes`) keeps them on every run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { RouteSnapshot } from '../../../src/compile/types.js';
import { Controller, type RouteSink } from '../../../src/controller/loop.js';
import { defaultPipeline } from '../../../src/controller/pipeline.js';
import type { ConfigSource } from '../../../src/controller/source.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { KubeKind, KubeObject } from '../../../src/model/objects.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { FakeClock } from '../../../src/util/clock.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';

class FakeSource implements ConfigSource {
  readonly store = new ObjectStore();
  hasSynced(): boolean {
    return true;
  }
  diagnostics(): readonly Diagnostic[] {
    return [];
  }
}

class Sink implements RouteSink {
  publishRoutes(_s: RouteSnapshot): void {}
  publishEndpoints(): void {}
  setReady(): void {}
}

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

function setup() {
  const source = new FakeSource();
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const models: RoutingModel[] = [];
  const controller = new Controller({
    source,
    sink: new Sink(),
    pipeline: defaultPipeline,
    clock,
    logger: pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as LogLine) }),
    translateOptions: {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    },
    onModel: (m) => models.push(m),
  });
  const put = (...objects: KubeObject[]) => {
    const kinds = new Set<KubeKind>();
    for (const o of objects) if (source.store.upsert(o)) kinds.add(o.kind);
    controller.notify({ kinds, diagnosticsChanged: false });
    clock.advance(1_000);
  };
  source.store.upsert(ingressClass('portico').build());
  for (const o of echoService('web')) source.store.upsert(o);
  controller.runNow();
  return { put, logs, models };
}

const shop = (annotations: Record<string, string>, path = '/') => {
  let b = ingress('shop').cls('portico');
  for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
  return b.host('a.test').prefix(path, svc('web', 80)).build();
};

describe('ignored annotations in the log', () => {
  test('are logged once per appearance, while /routes keeps them on every run', () => {
    const { put, logs, models } = setup();
    const ignored = () => logs.filter((l) => l.msg === 'annotation ignored');
    put(shop({ [`${N}enable-influxdb`]: 'true' }));
    assert.equal(ignored().length, 1);
    assert.equal(ignored()[0]?.['field'], `metadata.annotations["${N}enable-influxdb"]`);
    assert.equal(ignored()[0]?.['object'], 'Ingress default/shop');
    // Other changes reload the configuration: no new line for the same annotation.
    put(...echoService('api'));
    put(shop({ [`${N}enable-influxdb`]: 'true' }, '/v2'));
    assert.equal(ignored().length, 1, 'not repeated on reloads');
    const loads = logs.filter((l) => l.msg.startsWith('config loaded'));
    assert.ok(loads.length >= 3);
    assert.ok(
      loads.every((l) => !JSON.stringify(l['warnings']).includes('enable-influxdb')),
      'the load line does not repeat it',
    );
    assert.ok(
      models.at(-1)?.diagnostics.some((d) => d.code === 'PORTICO_WARN_ANNOTATION_UNKNOWN'),
      '/routes still lists it',
    );
    // Removed, then added back: a new appearance is logged again.
    put(shop({}, '/v2'));
    put(shop({ [`${N}enable-influxdb`]: 'true' }, '/v2'));
    assert.equal(ignored().length, 2);
  });
});
