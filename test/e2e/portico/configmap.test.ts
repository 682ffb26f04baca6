/**
 * Global settings from the `--configmap` ConfigMap, end to end through the real binary in file
 * mode: ingress-nginx key names, ConfigMap > flag precedence, live application on edit, invalid
 * values keeping the previous one (and reported in /routes), unknown keys reported once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { GlobalSettings } from '../../../src/model/settings/types.js';
import type { Echo } from '../../support/backends.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type LogEntry,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from './helpers.js';

interface Routes {
  diagnostics: Diagnostic[];
  settings: GlobalSettings;
}

describe('ConfigMap settings (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const routes = async (): Promise<Routes> =>
    JSON.parse((await get(portico.adminPort, '/routes')).body) as Routes;
  const readTimeout = async () => (await routes()).settings.upstream.readTimeoutMs;
  const timed = async (path: string, headers: Record<string, string> = {}) => {
    const started = Date.now();
    const res = await get(portico.httpPort, path, { host: 'a.test', headers });
    return { res, ms: Date.now() - started };
  };
  const count = (msg: string, pred: (e: LogEntry) => boolean = () => true) =>
    portico.logs.filter((e) => e.msg === msg && pred(e)).length;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'a.yaml': yamlOf(ingress('a').cls('portico').host('a.test').prefix('/', svc('web', 80)).build()),
      'configmap.yaml': settingsConfigMap({ 'proxy-read-timeout': '1' }),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--configmap', 'ingress/portico', '--proxy-read-timeout', '4s'],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('the ConfigMap wins over the flag: a 1 s read timeout answers a 2.5 s backend with 504', async () => {
    assert.equal(await readTimeout(), 1_000);
    const { res, ms } = await timed('/slow?ms=2500');
    assert.equal(res.status, 504);
    assert.ok(ms >= 900 && ms < 2_400, `504 after ${ms} ms, not after the flag's 4 s`);
    assert.equal((await timed('/slow?ms=200')).res.status, 200);
  });

  test('raising it in the ConfigMap applies live, without a restart', async () => {
    await dir.write('configmap.yaml', settingsConfigMap({ 'proxy-read-timeout': '3' }));
    await waitUntil(async () => (await readTimeout()) === 3_000, 10_000, 'read timeout 3 s');
    assert.equal((await timed('/slow?ms=1500')).res.status, 200);
    // Lowering again (nginx time syntax this time).
    await dir.write('configmap.yaml', settingsConfigMap({ 'proxy-read-timeout': '500ms' }));
    await waitUntil(async () => (await readTimeout()) === 500, 10_000, 'read timeout 500 ms');
    const { res, ms } = await timed('/slow?ms=2000');
    assert.equal(res.status, 504);
    assert.ok(ms < 1_800, `504 after ${ms} ms`);
  });

  test('use-forwarded-headers changes X-Forwarded-For handling live', async () => {
    const xff = async () => {
      const { res } = await timed('/', { 'x-forwarded-for': '203.0.113.9' });
      return (JSON.parse(res.body) as Echo).headers['x-forwarded-for'];
    };
    assert.equal(await xff(), '127.0.0.1', 'untrusted by default: overwritten');
    await dir.write(
      'configmap.yaml',
      settingsConfigMap({ 'proxy-read-timeout': '500ms', 'use-forwarded-headers': 'true' }),
    );
    await waitUntil(async () => (await xff()) === '203.0.113.9, 127.0.0.1', 10_000, 'XFF appended');
    await dir.write(
      'configmap.yaml',
      settingsConfigMap({
        'proxy-read-timeout': '500ms',
        'use-forwarded-headers': 'true',
        'proxy-real-ip-cidr': '10.0.0.0/8',
      }),
    );
    await waitUntil(async () => (await xff()) === '127.0.0.1', 10_000, 'peer outside proxy-real-ip-cidr');
  });

  test('a bad value keeps the previous one, other keys still apply, and /routes says why and where', async () => {
    const from = portico.logs.length;
    await dir.write(
      'configmap.yaml',
      settingsConfigMap({
        'proxy-read-timeout': 'soon', // line 7
        'proxy-send-timeout': '7', // line 8
        'upstream-keepalive-timeout': '30', // line 9
        'worker-processes': '4', // line 10
      }),
    );
    await waitUntil(
      async () => (await routes()).settings.upstream.sendTimeoutMs === 7_000,
      10_000,
      'send 7 s',
    );
    const r = await routes();
    assert.equal(r.settings.upstream.readTimeoutMs, 500, 'the previous good value is kept');
    const mine = r.diagnostics.filter((d) => d.object === 'ConfigMap ingress/portico');
    const file = join(dir.dir, 'configmap.yaml');
    assert.deepEqual(
      mine.map((d) => [d.severity, d.field, d.source?.replace(/:\d+$/, '')]),
      [
        ['error', 'data.proxy-read-timeout', `${file}:7`],
        ['warning', 'data.upstream-keepalive-timeout', `${file}:9`],
        ['warning', 'data.worker-processes', `${file}:10`],
      ],
    );
    assert.equal(
      mine[0]?.message,
      'invalid value "soon": must be seconds ("60") or an nginx time ("60s", "1m", "500ms"); keeping the previous value 500ms',
    );
    assert.match(mine[1]?.message ?? '', /not supported yet; ignored/);
    assert.match(mine[2]?.message ?? '', /^unknown key; ignored \(value "4"\)$/);
    // Still serving, with the kept timeout.
    assert.equal((await timed('/slow?ms=2000')).res.status, 504);
    // Reported once: another reload does not log them again.
    await portico.waitForLog((e) => e.msg === 'setting invalid', 5_000, from);
    await dir.write(
      'b.yaml',
      yamlOf(ingress('b').cls('portico').host('b.test').prefix('/', svc('web', 80)).build()),
    );
    await waitUntil(async () => (await get(portico.httpPort, '/', { host: 'b.test' })).status === 200);
    const logged = portico.logs.slice(from);
    assert.equal(logged.filter((e) => e.msg === 'setting invalid').length, 1);
    assert.equal(logged.filter((e) => e.msg === 'setting ignored').length, 2);
    assert.ok(count('global settings applied') >= 1);
  });

  test('deleting the ConfigMap falls back to the flag values', async () => {
    await dir.remove('configmap.yaml');
    await waitUntil(async () => (await readTimeout()) === 4_000, 10_000, "the flag's 4 s");
    const r = await routes();
    assert.equal(r.settings.upstream.sendTimeoutMs, 60_000);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.object === 'ConfigMap ingress/portico'),
      [],
    );
    assert.equal((await timed('/slow?ms=2000')).res.status, 200);
  });
});
