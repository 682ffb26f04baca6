/**
 * File mode: the TCP/UDP services ConfigMaps and L4Routes of a manifests folder load into the
 * store and translate, with every rejection pointing at its file:line:column.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileSource } from '../../../src/files/source.js';
import { translateL4 } from '../../../src/l4/translate.js';
import { createLogger } from '../../../src/log/logger.js';

test('the fixture folder loads: ConfigMap entries and L4Routes become services, rejections carry file:line', async () => {
  const source = new FileSource({
    dir: 'test/fixtures/l4-rules',
    ingressClass: 'portico',
    controllerClass: 'portico.dev/ingress-controller',
    logger: createLogger({ level: 'silent' }),
  });
  await source.load();
  const store = source.store;
  assert.deepEqual(store.keys('L4Route').sort(), ['cache/redis', 'cache/redis-proxied', 'cache/takeover']);
  const result = translateL4(
    {
      configMaps: store.list('ConfigMap'),
      routes: store.list('L4Route'),
      services: store.list('Service'),
      endpointSlices: store.list('EndpointSlice'),
    },
    {
      mode: 'userspace',
      tcpServicesConfigMap: { namespace: 'ingress', name: 'tcp-services' },
      udpServicesConfigMap: { namespace: 'ingress', name: 'udp-services' },
      reservedPorts: new Map([[80, '--http-port']]),
    },
  );
  assert.deepEqual(
    result.state.services.map((s) => [
      s.name,
      s.listenPort,
      s.proxyProtocol ?? null,
      s.idleTimeoutMs ?? null,
    ]),
    [
      ['db/postgres:postgres/TCP', 5432, null, null],
      ['kube-system/dns:dns/UDP', 53, null, null],
      ['cache/redis:redis/TCP', 6379, null, null],
    ],
  );
  assert.deepEqual(
    result.diagnostics.map((d) => `${d.source} ${d.object} ${d.field}`),
    [
      'test/fixtures/l4-rules/configmaps.yaml:7:9 ConfigMap ingress/tcp-services data["80"]',
      'test/fixtures/l4-rules/configmaps.yaml:8:11 ConfigMap ingress/tcp-services data["7000"]',
      'test/fixtures/l4-rules/configmaps.yaml:10:13 ConfigMap ingress/tcp-services data["eighty"]',
      'test/fixtures/l4-rules/configmaps.yaml:9:11 ConfigMap ingress/tcp-services data["7001"]',
      // In user space the PROXY route is possible, but its Service port is already exposed on 6379.
      'test/fixtures/l4-rules/routes.yaml:17:36 L4Route cache/redis-proxied spec.backend.port',
      'test/fixtures/l4-rules/routes.yaml:25:15 L4Route cache/takeover spec.listenPort',
    ],
  );
});
