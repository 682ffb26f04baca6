/**
 * Cluster mode end to end for RateLimitPolicy, through the real `@kubernetes/client-node` against
 * the fake API server: the informer delivers the policy, the controller applies it to the Ingress
 * that names it, and the leader writes the policy's `Accepted` condition (True, then False with
 * the bad field after a broken edit, while the Ingress keeps the last good limit and gets a
 * Warning Event). Every request is one permissions.ts allows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../../../src/cli/flags.js';
import { Controller } from '../../../../src/controller/loop.js';
import { defaultPipeline } from '../../../../src/controller/pipeline.js';
import { clientTransports } from '../../../../src/k8s/client.js';
import { fromApiObject } from '../../../../src/k8s/convert.js';
import { REQUIRED_PERMISSIONS } from '../../../../src/k8s/permissions.js';
import {
  type ClusterReporting,
  createClusterReportingWith,
  createReportingApis,
} from '../../../../src/k8s/reporting.js';
import { ClusterSource } from '../../../../src/k8s/source.js';
import { desiredPolicyStatus } from '../../../../src/k8s/status/policy.js';
import { silentLogger } from '../../../../src/log/logger.js';
import { PorticoMetrics } from '../../../../src/metrics/registry.js';
import type { Condition, RateLimitPolicy } from '../../../../src/model/objects.js';
import type { RoutingModel } from '../../../../src/model/types.js';
import { type FakeApiServer, startFakeApiServer } from '../../../support/fake-apiserver/index.js';
import { waitFor } from '../../fake-apiserver/helpers.js';

const TRANSLATE = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
} as const;

const CLUSTER: ClusterConfig = {
  watchNamespaces: [],
  publishStatusAddresses: [],
  election: {
    leaseName: 'portico-leader',
    namespace: 'default',
    identity: 'portico-a',
    leaseDurationMs: 1_500,
    renewDeadlineMs: 1_000,
    retryPeriodMs: 200,
  },
};

interface PolicyObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number };
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

let server: FakeApiServer;
let source: ClusterSource;
let controller: Controller;
let reporting: ClusterReporting;
let model: RoutingModel | undefined;

const accepted = (): Condition | undefined => {
  const p = server.get('portico.dev/v1alpha1', 'RateLimitPolicy', 'default', 'api') as
    | PolicyObject
    | undefined;
  return p?.status?.conditions?.find((c) => c.type === 'Accepted');
};

before(async () => {
  server = await startFakeApiServer({ bookmarkIntervalMs: 100 });
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  server.create({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'portico' },
    spec: { controller: TRANSLATE.controllerClass },
  });
  server.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { ports: [{ port: 80 }] },
  });
  server.create({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'store',
      namespace: 'default',
      annotations: { 'portico.dev/rate-limit-policy': 'api' },
    },
    spec: {
      ingressClassName: 'portico',
      rules: [
        {
          host: 'a.test',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  });
  server.create({
    apiVersion: 'portico.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'api', namespace: 'default' },
    spec: { rps: 10, burst: 5 },
  });
  const metrics = new PorticoMetrics({ processMetrics: false });
  const logger = silentLogger();
  source = new ClusterSource({
    transports: clientTransports(kc),
    cluster: CLUSTER,
    classes: TRANSLATE,
    logger,
    onChange: (change) => controller.notify(change),
    onSynced: () => controller.runNow(),
  });
  reporting = createClusterReportingWith(
    { store: source.store, cluster: CLUSTER, translate: TRANSLATE, logger, metrics },
    createReportingApis(kc, CLUSTER),
  );
  controller = new Controller({
    source,
    sink: { publishRoutes: () => {}, publishEndpoints: () => {}, setReady: () => {} },
    pipeline: defaultPipeline,
    logger,
    translateOptions: TRANSLATE,
    holdoffMs: 10,
    maxDelayMs: 50,
    onModel: (m, generation) => {
      model = m;
      reporting.onModel(m, generation);
    },
  });
  source.start();
  reporting.start();
});

after(async () => {
  await reporting.stop();
  controller.stop();
  source.stop();
  await server.close();
});

test('the leader writes Accepted=True with observedGeneration, and the Ingress gets the limit', async () => {
  await waitFor('Accepted condition', () => accepted()?.status === 'True', 10_000);
  const condition = accepted();
  assert.equal(condition?.reason, 'Accepted');
  assert.equal(condition?.observedGeneration, 1);
  assert.match(condition?.lastTransitionTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const policy = server.get('portico.dev/v1alpha1', 'RateLimitPolicy', 'default', 'api') as PolicyObject;
  assert.equal(policy.status?.observedGeneration, 1);
  await waitFor('model with the limit', () => model?.routes[0]?.policy?.rateLimit?.policy === 'default/api');
  assert.deepEqual(model?.routes[0]?.policy?.rateLimit?.buckets, [
    { capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' },
  ]);
});

test('a broken edit: Accepted=False naming the field, the last good limit stays, the Ingress gets a Warning Event', async () => {
  const current = server.get('portico.dev/v1alpha1', 'RateLimitPolicy', 'default', 'api') as PolicyObject;
  server.update({ ...current, spec: { rps: 10, burst: 5, scope: 'cluster' } });
  await waitFor('Accepted=False', () => accepted()?.status === 'False', 10_000);
  const condition = accepted();
  assert.equal(condition?.reason, 'Invalid');
  assert.equal(condition?.observedGeneration, 2);
  assert.equal(
    condition?.message,
    'spec.scope: "cluster": must be one of "ingress", "path"; Ingresses that name it keep its last good version, if any',
  );
  await waitFor('policy warning in the model', () =>
    (model?.diagnostics ?? []).some((d) => d.code === 'PORTICO_WARN_RATE_LIMIT_POLICY'),
  );
  assert.equal(model?.routes[0]?.policy?.rateLimit?.buckets[0]?.capacity, 15, 'last good version in force');
  await waitFor('Warning Event on the Ingress', () =>
    server
      .list('v1', 'Event', 'default')
      .some((e) => (e as { reason?: string }).reason === 'RateLimitPolicyProblem'),
  );
});

test('the written status is what the writer wants: a further pass would write nothing', () => {
  const raw = server.get('portico.dev/v1alpha1', 'RateLimitPolicy', 'default', 'api');
  const converted = fromApiObject('RateLimitPolicy', raw);
  assert.ok(converted.ok);
  assert.equal(desiredPolicyStatus(converted.object as RateLimitPolicy, '2030-01-01T00:00:00Z'), undefined);
  const puts = server.requests.filter(
    (r) =>
      r.resource === 'ratelimitpolicies' &&
      r.subresource === 'status' &&
      r.verb === 'update' &&
      r.status === 200,
  );
  assert.equal(puts.length, 2, 'one write per condition change (True, then False)');
});

test('every request was one permissions.ts allows', () => {
  for (const r of server.requests) {
    if (r.resource === '') continue;
    const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
    const allowed = REQUIRED_PERMISSIONS.some(
      (p) => p.group === r.group && p.resource === resource && p.verbs.includes(r.verb),
    );
    assert.ok(allowed, `${r.verb} ${r.group}/${resource} is not in REQUIRED_PERMISSIONS`);
  }
});
