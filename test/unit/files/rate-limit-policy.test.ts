/**
 * File mode loads RateLimitPolicies from --manifests like any other kind, and the controller applies
 * them: an Ingress naming a policy gets its limit; an edit that breaks the policy keeps the last good
 * version in force, reports the bad field at file:line:column and warns on the Ingress.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RouteSnapshot } from '../../../src/compile/types.js';
import { Controller } from '../../../src/controller/loop.js';
import { defaultPipeline } from '../../../src/controller/pipeline.js';
import { FileSource } from '../../../src/files/source.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { RoutingModel } from '../../../src/model/types.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: store
  namespace: shop
  annotations:
    portico.dev/rate-limit-policy: api
spec:
  ingressClassName: portico
  rules:
  - host: a.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
`;

const POLICY = (rps: string) => `apiVersion: portico.dev/v1alpha1
kind: RateLimitPolicy
metadata:
  name: api
  namespace: shop
spec:
  rps: ${rps}
  burst: 5
  store: memory
`;

test('a RateLimitPolicy file is loaded, applied, and a broken edit keeps its last good version', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-rlp-'));
  dirs.push(dir);
  await writeFile(join(dir, 'ingress.yaml'), INGRESS);
  await writeFile(join(dir, 'policy.yaml'), POLICY('10'));
  const controller: { current?: Controller } = {};
  const source = new FileSource({
    dir,
    ingressClass: 'portico',
    controllerClass: 'portico.dev/ingress-controller',
    logger: silentLogger(),
    onChange: (change) => controller.current?.notify(change),
  });
  const snapshots: RouteSnapshot[] = [];
  const models: RoutingModel[] = [];
  controller.current = new Controller({
    source,
    sink: { publishRoutes: (s) => snapshots.push(s), publishEndpoints: () => {}, setReady: () => {} },
    pipeline: defaultPipeline,
    logger: silentLogger(),
    translateOptions: {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    },
    onModel: (m) => models.push(m),
  });
  await source.load();
  assert.deepEqual(source.store.keys('RateLimitPolicy'), ['shop/api']);
  controller.current.runNow();
  const limit = models.at(-1)?.routes[0]?.policy?.rateLimit;
  assert.equal(limit?.policy, 'shop/api');
  assert.deepEqual(limit?.buckets, [{ capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' }]);
  assert.equal(limit?.store, 'memory');

  await writeFile(join(dir, 'policy.yaml'), POLICY('"ten"'));
  await source.load();
  controller.current.runNow();
  const model = models.at(-1);
  assert.deepEqual(model?.routes[0]?.policy?.rateLimit, limit, 'the last good version stays in force');
  const error = model?.diagnostics.find((d) => d.code === 'PORTICO_ERR_RATE_LIMIT_POLICY_INVALID');
  assert.equal(error?.object, 'RateLimitPolicy shop/api');
  assert.equal(error?.field, 'spec.rps');
  assert.equal(error?.message, '"ten": must be an integer');
  assert.match(error?.source ?? '', /policy\.yaml:7:\d+$/);
  const warning = model?.diagnostics.find((d) => d.code === 'PORTICO_WARN_RATE_LIMIT_POLICY');
  assert.equal(warning?.object, 'Ingress shop/store');
  assert.match(
    warning?.message ?? '',
    /is rejected \(spec\.rps: "ten": must be an integer\); keeping its last good version/,
  );

  await writeFile(join(dir, 'policy.yaml'), POLICY('20'));
  await source.load();
  controller.current.runNow();
  assert.equal(models.at(-1)?.routes[0]?.policy?.rateLimit?.buckets[0]?.capacity, 25);
  controller.current.stop();
  await source.stop();
});
