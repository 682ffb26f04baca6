import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { RouteSnapshot } from '../../../src/compile/types.js';
import { DEFAULT_CLIENT_OPTIONS, DEFAULT_UPSTREAM_OPTIONS } from '../../../src/config/types.js';
import { Controller, type ControllerOptions, type RouteSink } from '../../../src/controller/loop.js';
import { defaultPipeline } from '../../../src/controller/pipeline.js';
import type { ConfigSource } from '../../../src/controller/source.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { ConfigMap, KubeKind, KubeObject } from '../../../src/model/objects.js';
import { baseSettings, type GlobalSettings } from '../../../src/model/settings/types.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { FakeClock } from '../../../src/util/clock.js';
import { echoService, ingressClass } from '../../support/builders.js';

class FakeSource implements ConfigSource {
  readonly store = new ObjectStore();
  hasSynced(): boolean {
    return true;
  }
  diagnostics(): readonly Diagnostic[] {
    return [];
  }
}

class SettingsSink implements RouteSink {
  routes: RouteSnapshot[] = [];
  applied: GlobalSettings[] = [];
  publishRoutes(s: RouteSnapshot): void {
    this.routes.push(s);
  }
  publishEndpoints(): void {}
  setReady(): void {}
  applySettings(settings: GlobalSettings): void {
    this.applied.push(settings);
  }
}

const base = baseSettings({
  bindAddress: '127.0.0.1',
  httpPort: 0,
  httpsPort: 0,
  adminPort: 0,
  trustedProxies: [],
  upstream: DEFAULT_UPSTREAM_OPTIONS,
  client: DEFAULT_CLIENT_OPTIONS,
  shutdownDelayMs: 0,
  drainTimeoutMs: 0,
});

const configMap = (data: Record<string, string>, name = 'portico'): ConfigMap => ({
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ingress' },
  data,
});

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function setup(
  extra: Partial<ControllerOptions> = {},
  drop: readonly ('settingsBase' | 'settingsConfigMap')[] = [],
) {
  const source = new FakeSource();
  const sink = new SettingsSink();
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as LogLine) });
  const options: ControllerOptions = {
    source,
    sink,
    pipeline: defaultPipeline,
    clock,
    logger,
    translateOptions: {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    },
    settingsBase: base,
    settingsConfigMap: { namespace: 'ingress', name: 'portico' },
    ...extra,
  };
  const { settingsBase, settingsConfigMap, ...rest } = options;
  const controller = new Controller({
    ...rest,
    ...(drop.includes('settingsBase') || settingsBase === undefined ? {} : { settingsBase }),
    ...(drop.includes('settingsConfigMap') || settingsConfigMap === undefined ? {} : { settingsConfigMap }),
  });
  const put = (...objects: KubeObject[]) => {
    const kinds = new Set<KubeKind>();
    for (const o of objects) if (source.store.upsert(o)) kinds.add(o.kind);
    controller.notify({ kinds, diagnosticsChanged: false });
    clock.advance(1_000);
  };
  const remove = (name: string) => {
    source.store.remove('ConfigMap', 'ingress', name);
    controller.notify({ kinds: new Set(['ConfigMap']), diagnosticsChanged: false });
    clock.advance(1_000);
  };
  source.store.upsert(ingressClass('portico').build());
  for (const o of echoService('web')) source.store.upsert(o);
  return { source, sink, clock, controller, put, remove, logs };
}

const settingDiagnostics = (s: RouteSnapshot | undefined) =>
  (s?.model.diagnostics ?? []).filter((d) => d.object === 'ConfigMap ingress/portico');

describe('Controller: global settings from the ConfigMap', () => {
  test('without settingsBase no settings are computed or applied', () => {
    const { sink, controller } = setup({}, ['settingsBase', 'settingsConfigMap']);
    controller.runNow();
    assert.deepEqual(sink.applied, []);
    assert.equal(controller.settings, undefined);
  });

  test('settingsConfigMap without settingsBase is a programmer error', () => {
    assert.throws(() => setup({}, ['settingsBase']), /needs settingsBase/);
  });

  test('without a ConfigMap the flag defaults are applied once, on the first run, and the absence is logged once', () => {
    const { sink, controller, put, logs } = setup();
    controller.runNow();
    assert.deepEqual(sink.applied, [base]);
    put(...echoService('api'));
    put(...echoService('other'));
    assert.equal(sink.applied.length, 1, 'unchanged settings are not re-applied');
    assert.equal(logs.filter((l) => l.msg === 'settings ConfigMap not found; using flag defaults').length, 1);
  });

  test('the ConfigMap applies over the flags, and every change is applied live; no-op edits are not', () => {
    const { sink, controller, put } = setup();
    put(configMap({ 'proxy-read-timeout': '5' }));
    controller.runNow();
    assert.equal(sink.applied.length, 1);
    assert.equal(sink.applied[0]?.upstream.readTimeoutMs, 5_000);
    assert.equal(sink.applied[0]?.upstream.sendTimeoutMs, base.upstream.sendTimeoutMs);
    put(configMap({ 'proxy-read-timeout': '2', 'use-forwarded-headers': 'true' }));
    assert.equal(sink.applied.length, 2);
    assert.equal(sink.applied[1]?.upstream.readTimeoutMs, 2_000);
    assert.equal(sink.applied[1]?.forwarded.useForwardedHeaders, true);
    // Same values, spelled differently: same effective settings, nothing to apply.
    put(configMap({ 'proxy-read-timeout': '2s', 'use-forwarded-headers': 'True' }));
    assert.equal(sink.applied.length, 2);
    assert.deepEqual(controller.settings, sink.applied[1]);
  });

  test('another ConfigMap does not count', () => {
    const { sink, controller, put } = setup();
    controller.runNow();
    put(configMap({ 'proxy-read-timeout': '5' }, 'other'));
    assert.equal(sink.applied.length, 1);
    assert.deepEqual(sink.applied[0], base);
  });

  test('an invalid value keeps the previous good one, is published in the model diagnostics and logged once', () => {
    const { sink, controller, put, logs } = setup();
    put(configMap({ 'proxy-read-timeout': '5' }));
    controller.runNow();
    put(configMap({ 'proxy-read-timeout': 'fast', 'proxy-send-timeout': '9' }));
    assert.equal(sink.applied.at(-1)?.upstream.readTimeoutMs, 5_000, 'previous good value kept');
    assert.equal(sink.applied.at(-1)?.upstream.sendTimeoutMs, 9_000, 'other keys still apply');
    assert.deepEqual(settingDiagnostics(sink.routes.at(-1)), [
      {
        severity: 'error',
        code: 'PORTICO_ERR_OBJECT_INVALID',
        object: 'ConfigMap ingress/portico',
        field: 'data.proxy-read-timeout',
        message:
          'invalid value "fast": must be seconds ("60") or an nginx time ("60s", "1m", "500ms"); keeping the previous value 5s',
      },
    ]);
    put(...echoService('api'));
    put(...echoService('other'));
    const lines = logs.filter((l) => l.msg === 'setting invalid');
    assert.equal(lines.length, 1, 'logged once, not on every run');
    assert.equal(lines[0]?.['field'], 'data.proxy-read-timeout');
    // The per-load line does not repeat it.
    const loads = logs.filter((l) => l.msg.startsWith('config loaded'));
    assert.ok(
      loads.every((l) => JSON.stringify(l['rejected']) === '[]'),
      JSON.stringify(loads.at(-1)),
    );
    // Fixed: the diagnostic goes away.
    put(configMap({ 'proxy-read-timeout': '3', 'proxy-send-timeout': '9' }));
    assert.equal(sink.applied.at(-1)?.upstream.readTimeoutMs, 3_000);
    assert.deepEqual(settingDiagnostics(sink.routes.at(-1)), []);
  });

  test('an unknown key is reported once per (key, value), never as an error that blocks', () => {
    const { sink, controller, put, logs } = setup();
    put(configMap({ 'worker-processes': '4', 'proxy-read-timeout': '5' }));
    controller.runNow();
    put(...echoService('api'));
    const ignored = () => logs.filter((l) => l.msg === 'setting ignored');
    assert.equal(ignored().length, 1);
    assert.equal(sink.applied.at(-1)?.upstream.readTimeoutMs, 5_000);
    put(configMap({ 'worker-processes': '8', 'proxy-read-timeout': '5' }));
    assert.equal(ignored().length, 2, 'a new value is reported again');
    assert.match(String(ignored()[1]?.['message']), /value "8"/);
    assert.equal(settingDiagnostics(sink.routes.at(-1))[0]?.severity, 'warning');
  });

  test('deleting the ConfigMap returns to the flag defaults', () => {
    const { sink, controller, put, remove } = setup();
    put(configMap({ 'proxy-connect-timeout': '1', 'keep-alive': '5' }));
    controller.runNow();
    assert.equal(sink.applied.at(-1)?.upstream.connectTimeoutMs, 1_000);
    remove('portico');
    assert.deepEqual(sink.applied.at(-1), base);
    // …and a later invalid value does not resurrect the deleted ConfigMap's good values.
    put(configMap({ 'proxy-connect-timeout': 'x' }));
    assert.equal(sink.applied.length, 2);
    assert.equal(controller.settings?.upstream.connectTimeoutMs, base.upstream.connectTimeoutMs);
  });

  test('diagnostics carry file:line from the store locator (file mode)', () => {
    const { sink, controller, source } = setup();
    source.store.upsert(configMap({ 'proxy-read-timeout': 'x' }), (field) =>
      field === 'data.proxy-read-timeout'
        ? { file: 'cm.yaml', line: 7, column: 23, documentIndex: 0 }
        : undefined,
    );
    controller.runNow();
    assert.equal(settingDiagnostics(sink.routes.at(-1))[0]?.source, 'cm.yaml:7:23');
  });

  test('a sink without applySettings is fine', () => {
    const sink = { publishRoutes() {}, publishEndpoints() {}, setReady() {} };
    const { controller } = setup({ sink, logger: silentLogger() });
    controller.runNow();
    assert.deepEqual(controller.settings, base);
  });
});
