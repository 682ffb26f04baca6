import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteSnapshot } from '../../../src/compile/types.js';
import { Controller, type ControllerOptions, type Pipeline } from '../../../src/controller/loop.js';
import { defaultPipeline } from '../../../src/controller/pipeline.js';
import type { ConfigSource } from '../../../src/controller/source.js';
import type { EndpointTable } from '../../../src/endpoints/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { KubeKind, KubeObject } from '../../../src/model/objects.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { FakeClock } from '../../../src/util/clock.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';

class FakeSource implements ConfigSource {
  readonly store = new ObjectStore();
  synced = false;
  diags: Diagnostic[] = [];
  hasSynced(): boolean {
    return this.synced;
  }
  diagnostics(): readonly Diagnostic[] {
    return this.diags;
  }
}

class FakeSink {
  routes: RouteSnapshot[] = [];
  endpoints: EndpointTable[] = [];
  ready: boolean[] = [];
  publishRoutes(s: RouteSnapshot): void {
    this.routes.push(s);
  }
  publishEndpoints(t: EndpointTable): void {
    this.endpoints.push(t);
  }
  setReady(r: boolean): void {
    this.ready.push(r);
  }
}

/** `setup` wires a controller to fakes; `extra` swaps pipeline steps or adds a model observer. */
function setup(extra: { pipeline?: Partial<Pipeline>; onModel?: ControllerOptions['onModel'] } = {}) {
  const source = new FakeSource();
  const sink = new FakeSink();
  const clock = new FakeClock();
  let translations = 0;
  const pipeline: Pipeline = {
    ...defaultPipeline,
    translate: (input, options) => {
      translations++;
      return defaultPipeline.translate(input, options);
    },
    ...extra.pipeline,
  };
  const controller = new Controller({
    source,
    sink,
    pipeline,
    clock,
    logger: silentLogger(),
    translateOptions: {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    },
    ...(extra.onModel ? { onModel: extra.onModel } : {}),
  });
  const put = (...objects: KubeObject[]) => {
    const kinds = new Set<KubeKind>();
    for (const o of objects) if (source.store.upsert(o)) kinds.add(o.kind);
    controller.notify({ kinds, diagnosticsChanged: false });
  };
  return { source, sink, clock, controller, put, translations: () => translations };
}

const answer = (s: RouteSnapshot | undefined, host: string, path: string) =>
  s?.match(host, path).backend?.key ?? 'not-found';

describe('Controller', () => {
  test('publishes nothing before the source is synced, then routes, endpoints and ready once', () => {
    const { source, sink, clock, controller, put } = setup();
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build(),
    );
    clock.advance(1_000);
    assert.equal(sink.routes.length, 0);
    assert.deepEqual(sink.ready, []);
    source.synced = true;
    controller.runNow();
    assert.equal(sink.routes.length, 1);
    assert.equal(sink.routes[0]?.generation, 1);
    assert.equal(answer(sink.routes[0], 'a.test', '/x'), 'default/web:80');
    assert.deepEqual(
      [...(sink.endpoints[0]?.get('default/web:80') ?? [])],
      [{ address: '127.0.0.1', port: 8080, kind: 'ip' }],
    );
    assert.deepEqual(sink.ready, [true]);
    clock.advance(1_000);
    assert.equal(sink.routes.length, 1, 'the pending debounced run was folded into runNow');
  });

  test('changes are debounced: a burst gives one publish with the latest state', () => {
    const { source, sink, clock, controller, put } = setup();
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'), ...echoService('api'));
    controller.runNow();
    for (let i = 0; i < 5; i++) {
      put(ingress('shop').cls('portico').host('a.test').prefix(`/v${i}`, svc('web', 80)).build());
      clock.advance(20);
    }
    assert.equal(sink.routes.length, 1);
    clock.advance(100);
    assert.equal(sink.routes.length, 2);
    assert.equal(answer(sink.routes[1], 'a.test', '/v4'), 'default/web:80');
    assert.equal(answer(sink.routes[1], 'a.test', '/v0'), 'not-found');
    assert.equal(controller.generation, 2);
  });

  test('an unchanged model is not republished', () => {
    const { source, sink, clock, controller, put } = setup();
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'));
    controller.runNow();
    // A Secret does not change the routing model.
    put({ kind: 'Secret', metadata: { name: 's', namespace: 'default' } });
    clock.advance(500);
    assert.equal(sink.routes.length, 1);
    assert.equal(sink.endpoints.length, 1);
    assert.equal(controller.outcomes.at(-1)?.kind, 'full');
  });

  test('a ConfigMap no Ingress reads is skipped; one an Ingress reads (or will, once created) runs in full', () => {
    const { source, sink, clock, controller, put, translations } = setup();
    source.synced = true;
    const cm = (name: string, value: string): KubeObject => ({
      kind: 'ConfigMap',
      metadata: { name, namespace: 'default' },
      data: { 'X-Shop': value },
    });
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      ingress('shop')
        .cls('portico')
        .annotate('nginx.ingress.kubernetes.io/custom-headers', 'shop-headers')
        .host('a.test')
        .prefix('/', svc('web', 80))
        .build(),
    );
    controller.runNow();
    const headers = () => sink.routes.at(-1)?.match('a.test', '/').policy.responseHeaders;
    assert.equal(headers(), undefined, 'the ConfigMap does not exist yet');
    // Another controller's lock, renewed: nothing reads it.
    const before = translations();
    put(cm('some-lock', '1'));
    clock.advance(500);
    put(cm('some-lock', '2'));
    clock.advance(500);
    assert.equal(translations(), before);
    assert.equal(controller.outcomes.at(-1)?.kind, 'skipped');
    // The missing ConfigMap the Ingress names appears: a full run picks it up.
    put(cm('shop-headers', 'yes'));
    clock.advance(500);
    assert.equal(controller.outcomes.at(-1)?.kind, 'full');
    assert.deepEqual(headers(), [['X-Shop', 'yes']]);
    put(cm('shop-headers', 'edited'));
    clock.advance(500);
    assert.deepEqual(headers(), [['X-Shop', 'edited']]);
  });

  test('EndpointSlice-only changes take the fast path without translating', () => {
    const { source, sink, clock, controller, put, translations } = setup();
    source.synced = true;
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build(),
    );
    controller.runNow();
    const before = translations();
    put(echoService('web', { addresses: ['127.0.0.2', '127.0.0.3'] })[1]);
    clock.advance(500);
    assert.equal(translations(), before);
    assert.equal(sink.routes.length, 1);
    assert.equal(sink.endpoints.length, 2);
    assert.deepEqual(
      sink.endpoints[1]?.get('default/web:80')?.map((e) => e.address),
      ['127.0.0.2', '127.0.0.3'],
    );
    assert.equal(controller.outcomes.at(-1)?.kind, 'endpoints');
  });

  test('EndpointSlice-only changes skip the route holdoff and coalesce within one tick', () => {
    const { source, sink, clock, controller, put, translations } = setup();
    source.synced = true;
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build(),
    );
    controller.runNow();
    const before = translations();
    put(echoService('web', { addresses: ['127.0.0.2'] })[1]);
    put(echoService('web', { addresses: ['127.0.0.3'] })[1]);
    assert.equal(sink.endpoints.length, 1, 'nothing runs synchronously inside notify');
    clock.advance(0);
    assert.equal(sink.endpoints.length, 2, 'published at once, not after the 100 ms holdoff');
    assert.deepEqual(
      sink.endpoints[1]?.get('default/web:80')?.map((e) => e.address),
      ['127.0.0.3'],
    );
    assert.equal(translations(), before);
  });

  test('an EndpointSlice change while a route change is pending joins the full run', () => {
    const { source, sink, clock, controller, put } = setup();
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'));
    controller.runNow();
    put(ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build());
    put(echoService('web', { addresses: ['127.0.0.4'] })[1]);
    clock.advance(0);
    assert.equal(sink.endpoints.length, 1, 'no separate endpoints run while a full run is pending');
    clock.advance(100);
    assert.equal(sink.routes.length, 2);
    assert.deepEqual(
      sink.endpoints
        .at(-1)
        ?.get('default/web:80')
        ?.map((e) => e.address),
      ['127.0.0.4'],
    );
  });

  test('an invalid edit keeps the last good routes and is reported as rejected', () => {
    const { source, sink, clock, controller, put } = setup();
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'), ...echoService('api'));
    put(ingress('shop').cls('portico').host('a.test').prefix('/good', svc('web', 80)).build());
    put(ingress('other').cls('portico').host('b.test').prefix('/', svc('api', 80)).build());
    controller.runNow();
    put(ingress('shop').cls('portico').host('a.test').prefix('no-slash', svc('web', 80)).build());
    put(ingress('other').cls('portico').host('b.test').prefix('/new', svc('api', 80)).build());
    clock.advance(500);
    const last = sink.routes.at(-1);
    assert.equal(answer(last, 'a.test', '/good'), 'default/web:80', 'last good of shop');
    assert.equal(answer(last, 'b.test', '/new'), 'default/api:80', 'other Ingresses unaffected');
    const report = last?.model.ingresses.find((r) => r.ingress === 'default/shop');
    assert.equal(report?.state, 'rejected');
    assert.equal(report?.servingLastGood, true);
    const codes = last?.model.diagnostics.map((d) => d.code) ?? [];
    assert.ok(codes.includes('PORTICO_ERR_PATH_INVALID'), codes.join());
    assert.ok(codes.includes('PORTICO_WARN_KEEPING_LAST_GOOD'), codes.join());
  });

  test('source diagnostics alone trigger a republish that carries them', () => {
    const { source, sink, clock, controller } = setup();
    source.synced = true;
    controller.runNow();
    source.diags = [
      {
        severity: 'error',
        code: 'PORTICO_ERR_MANIFEST_PARSE',
        object: 'File x.yaml',
        field: '',
        message: 'bad',
        source: 'x.yaml:1:1',
      },
    ];
    controller.notify({ kinds: new Set(), diagnosticsChanged: true });
    clock.advance(500);
    assert.equal(sink.routes.length, 2);
    assert.equal(sink.routes[1]?.model.diagnostics[0]?.source, 'x.yaml:1:1');
  });

  test('a throwing pipeline keeps the running config and does not crash', () => {
    const source = new FakeSource();
    source.synced = true;
    const sink = new FakeSink();
    const controller = new Controller({
      source,
      sink,
      clock: new FakeClock(),
      logger: silentLogger(),
      pipeline: {
        ...defaultPipeline,
        translate: () => {
          throw new Error('boom');
        },
      },
      translateOptions: { controllerClass: 'c', ingressClass: 'i', watchIngressWithoutClass: false },
    });
    assert.equal(controller.runNow().kind, 'failed');
    assert.equal(sink.routes.length, 0);
  });
});

describe('Controller model observer', () => {
  const observed = (onModel: ControllerOptions['onModel']) => setup({ onModel });

  test('the observer sees the model in force after every full run, and not on the endpoints fast path', () => {
    const seen: [string[], number][] = [];
    const { source, clock, controller, put } = observed((model, generation) =>
      seen.push([model.ingresses.filter((r) => r.state === 'served').map((r) => r.ingress), generation]),
    );
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'));
    controller.runNow();
    put(ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build());
    clock.advance(500);
    const [slice] = echoService('web').filter((o) => o.kind === 'EndpointSlice');
    assert.ok(slice && slice.kind === 'EndpointSlice');
    put({ ...slice, endpoints: [{ addresses: ['127.0.0.9'] }] });
    clock.advance(500);
    assert.deepEqual(seen, [
      [[], 1],
      [['default/shop'], 2],
    ]);
  });

  test('a throwing observer is logged and the loop keeps publishing', () => {
    const { source, sink, clock, controller, put } = observed(() => {
      throw new Error('observer bug');
    });
    source.synced = true;
    put(ingressClass('portico').build(), ...echoService('web'));
    controller.runNow();
    put(ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build());
    clock.advance(500);
    assert.equal(sink.routes.length, 2);
    assert.equal(answer(sink.routes[1], 'a.test', '/'), 'default/web:80');
  });
});

describe('Controller endpoint fast path is incremental', () => {
  test('an EndpointSlice event rebuilds only its Service, and other entries keep their identity', () => {
    const builds: number[] = [];
    const { source, sink, clock, controller, put } = setup({
      pipeline: {
        buildEndpointTable: (slices, backends) => {
          builds.push(slices.length);
          return defaultPipeline.buildEndpointTable(slices, backends);
        },
      },
    });
    source.synced = true;
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      ...echoService('api'),
      ingress('shop')
        .cls('portico')
        .host('a.test')
        .prefix('/', svc('web', 80))
        .prefix('/api', svc('api', 80))
        .build(),
    );
    controller.runNow();
    assert.deepEqual(builds, [2], 'the full run builds from every slice');
    const apiBefore = sink.endpoints.at(-1)?.get('default/api:80');

    put(echoService('web', { addresses: ['127.0.0.5'] })[1]);
    clock.advance(0);
    assert.deepEqual(builds, [2, 1], 'the fast path builds from the touched Service only');
    const table = sink.endpoints.at(-1);
    assert.deepEqual(
      table?.get('default/web:80')?.map((e) => e.address),
      ['127.0.0.5'],
    );
    assert.equal(table?.get('default/api:80'), apiBefore, 'the untouched entry is the same array');

    // A slice for a Service no route uses changes nothing and publishes nothing.
    const published = sink.endpoints.length;
    put(echoService('unused', { addresses: ['127.0.0.6'] })[1]);
    clock.advance(0);
    assert.equal(sink.endpoints.length, published);
  });
});
