/**
 * Rate and connection limits end to end (issue 6): real portico processes in file mode, real echo
 * backends, and a real redis-server for shared limits.
 *
 * Timing: the exact per-second boundary figures (10 rps + burst 5: 15 of 30, the 16th after
 * 100 ms) are tested with an injected clock in test/unit/policy/rate-limit and through the Lua
 * script in rate-limit-redis.test.ts. Here the buckets refill per minute, so counts are exact
 * whatever the machine's load: no token comes back while a test runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type HttpAnswer,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { RedisServer, redisSkipReason } from '../../support/redis.js';
import { type Pods, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io';
const P = 'portico.dev';

function limited(name: string, host: string, annotations: Record<string, string>, path = '/') {
  let b = ingress(name).cls('portico');
  for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
  return b.host(host).prefix(path, svc('web', 80)).build();
}

async function burst(
  port: number,
  n: number,
  host: string,
  opts: { path?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      get(port, opts.path ?? '/', { host, ...(opts.headers ? { headers: opts.headers } : {}) }),
    ),
  );
}

function count(answers: readonly HttpAnswer[], status: number): number {
  return answers.filter((a) => a.status === status).length;
}

describe('rate and connection limits (file mode, memory store)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'limits.yaml': yamlOf(
        limited('bucket', 'bucket.test', { [`${P}/limit-rpm`]: '10', [`${P}/limit-burst`]: '5' }),
        limited('nginx-style', 'nginx.test', { [`${N}/limit-rpm`]: '1' }),
        limited('conns', 'conns.test', { [`${P}/limit-connections`]: '8' }),
        limited('nginx-conns', 'nginx-conns.test', { [`${N}/limit-connections`]: '8' }),
        limited('by-key', 'key.test', { [`${P}/limit-rpm`]: '3', [`${P}/limit-key`]: 'header:X-Api-Key' }),
        limited('exempt', 'exempt.test', {
          [`${P}/limit-rpm`]: '1',
          [`${P}/limit-allowlist`]: '127.0.0.0/8',
        }),
        limited('dry', 'dry.test', { [`${P}/limit-rpm`]: '1', [`${P}/limit-dry-run`]: 'true' }),
        ingress('per-path')
          .cls('portico')
          .annotate(`${P}/limit-rpm`, '2')
          .annotate(`${P}/limit-scope`, 'path')
          .host('paths.test')
          .prefix('/a', svc('web', 80))
          .prefix('/b', svc('web', 80))
          .build(),
        ingress('per-ingress')
          .cls('portico')
          .annotate(`${P}/limit-rpm`, '2')
          .host('shared.test')
          .prefix('/a', svc('web', 80))
          .prefix('/b', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('portico.dev spelling: a bucket of rpm + burst admits exactly 15 of 30 simultaneous requests', async () => {
    const answers = await burst(portico.httpPort, 30, 'bucket.test');
    assert.equal(count(answers, 200), 15);
    assert.equal(count(answers, 429), 15);
    const refused = answers.find((a) => a.status === 429);
    assert.ok(refused !== undefined);
    assert.equal(refused.headers['ratelimit-limit'], '15');
    assert.equal(refused.headers['ratelimit-remaining'], '0');
    assert.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After in whole seconds');
    const allowed = answers.find((a) => a.status === 200);
    assert.equal(allowed?.headers['ratelimit-limit'], '15', 'allowed responses carry the headers too');
  });

  test('nginx spelling keeps nginx semantics: limit-rpm 1 (burst ×5 nodelay) admits 6 of 20, refused with 503', async () => {
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 20; i++) answers.push(await get(portico.httpPort, '/', { host: 'nginx.test' }));
    assert.deepEqual(
      answers.map((a) => a.status),
      [...Array(6).fill(200), ...Array(14).fill(503)],
    );
  });

  const connectionCases = [
    { spelling: 'portico.dev', host: 'conns.test', status: 429 },
    { spelling: 'nginx', host: 'nginx-conns.test', status: 503 },
  ] as const;
  for (const c of connectionCases) {
    test(`${c.spelling} limit-connections 8: of 20 concurrent slow requests exactly 8 pass, 12 get ${c.status}`, async () => {
      const answers = await burst(portico.httpPort, 20, c.host, { path: '/slow?ms=1500' });
      assert.equal(count(answers, 200), 8);
      assert.equal(count(answers, c.status), 12);
      // The slots are free again once the slow requests are over.
      const after = await burst(portico.httpPort, 8, c.host, { path: '/slow?ms=10' });
      assert.equal(count(after, 200), 8);
    });
  }

  test('limit-key header:<name> gives every key its own bucket; requests without it share one', async () => {
    const a = await burst(portico.httpPort, 5, 'key.test', { headers: { 'x-api-key': 'alpha' } });
    const b = await burst(portico.httpPort, 5, 'key.test', { headers: { 'x-api-key': 'beta' } });
    const none = await burst(portico.httpPort, 5, 'key.test');
    assert.deepEqual([count(a, 200), count(b, 200), count(none, 200)], [3, 3, 3]);
  });

  test('clients in limit-allowlist are never limited', async () => {
    const answers = await burst(portico.httpPort, 10, 'exempt.test');
    assert.equal(count(answers, 200), 10);
    assert.equal(answers[0]?.headers['ratelimit-limit'], undefined, 'no headers for an exempt client');
  });

  test('dry run refuses nothing and logs every would-be refusal', async () => {
    const from = portico.logs.length;
    const answers = await burst(portico.httpPort, 4, 'dry.test');
    assert.equal(count(answers, 200), 4);
    await waitUntil(
      () =>
        portico.logs.slice(from).filter((l) => l.msg === 'dry run: rate limit would refuse this request')
          .length === 3,
      5_000,
      'three dry-run lines',
    );
  });

  test('limit-scope path counts each route apart; scope ingress shares one bucket', async () => {
    const paths = [
      ...(await burst(portico.httpPort, 3, 'paths.test', { path: '/a' })),
      ...(await burst(portico.httpPort, 3, 'paths.test', { path: '/b' })),
    ];
    const shared = [
      ...(await burst(portico.httpPort, 3, 'shared.test', { path: '/a' })),
      ...(await burst(portico.httpPort, 3, 'shared.test', { path: '/b' })),
    ];
    assert.equal(count(paths, 200), 4);
    assert.equal(count(shared, 200), 2);
  });

  test('explain after traffic shows the key, scope, store and tokens left for that client', async () => {
    await get(portico.httpPort, '/', { host: 'key.test', headers: { 'x-api-key': 'gamma' } });
    const res = await get(portico.adminPort, '/explain?host=key.test&path=/&header=x-api-key:gamma');
    const report = JSON.parse(res.body) as { steps: Record<string, unknown>[] };
    const step = report.steps.find((s) => s['step'] === 'rate-limit');
    assert.ok(step !== undefined, res.body);
    assert.equal(step['key'], 'header:x-api-key');
    assert.equal(step['keyValue'], 'gamma');
    assert.equal(step['scope'], 'ingress');
    assert.equal(step['store'], 'memory');
    assert.equal(step['remaining'], 2);
    const spent = await get(portico.adminPort, '/explain?host=bucket.test&path=/');
    assert.match(spent.body, /"verdict": "refuse \(429\)"/);
  });
});

describe('rate limits shared in Redis by two portico processes', { skip: redisSkipReason() }, () => {
  let pods: Pods;
  let dir: ManifestDir;
  let redis: RedisServer;
  let one: PorticoProcess;
  let two: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    redis = await RedisServer.start();
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'limits.yaml': yamlOf(limited('global', 'global.test', { [`${P}/limit-rpm`]: '10' })),
    });
    const args = ['--redis-url', redis.url, '--replicas-hint', '2'];
    [one, two] = await Promise.all([
      startPortico({ manifests: dir.dir, args }),
      startPortico({ manifests: dir.dir, args }),
    ]);
  });

  after(async () => {
    await Promise.all([one?.stop('SIGKILL'), two?.stop('SIGKILL')]);
    await redis?.close();
    await pods?.close();
    await dir?.cleanup();
  });

  const storeOf = async (p: PorticoProcess): Promise<unknown> => {
    const res = await get(p.adminPort, '/explain?host=global.test&path=/&client=192.0.2.200');
    return (JSON.parse(res.body) as { steps: Record<string, unknown>[] }).steps[0]?.['store'];
  };

  test('one global limit across replicas: 10 of 20 requests alternating between them', async () => {
    await waitUntil(
      async () => (await storeOf(one)) === 'redis' && (await storeOf(two)) === 'redis',
      10_000,
      'Redis shared',
    );
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 20; i++)
      answers.push(await get((i % 2 === 0 ? one : two).httpPort, '/', { host: 'global.test' }));
    assert.equal(count(answers, 200), 10);
    assert.equal(count(answers, 429), 10);
  });

  test('Redis killed: each replica enforces its share (10 / 2 replicas = 5) in memory, then Redis back: shared again', async () => {
    await redis.stop();
    // Requests never hang on a dead Redis: each answers promptly from the fallback share.
    const started = performance.now();
    const fallback = [];
    for (let i = 0; i < 8; i++) fallback.push(await get(one.httpPort, '/', { host: 'global.test' }));
    assert.ok(performance.now() - started < 8 * 1_000, 'no request waited long on Redis');
    assert.equal(count(fallback, 200), 5);
    await one.waitForLog((l) => String(l.msg).startsWith('Redis unreachable'), 5_000);
    await redis.start();
    await waitUntil(async () => (await storeOf(one)) === 'redis', 10_000, 'Redis shared again');
    // Redis restarted empty: the shared bucket is full again and counted there.
    const shared: HttpAnswer[] = [];
    for (let i = 0; i < 12; i++)
      shared.push(await get((i % 2 === 0 ? one : two).httpPort, '/', { host: 'global.test' }));
    assert.equal(count(shared, 200), 10);
  });
});
