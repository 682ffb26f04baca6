import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import { methodLabel, routeLabels, statusClass } from '../../../src/metrics/requests.js';
import { DEFAULT_ROUTE_POLICY } from '../../../src/model/types.js';

function routeMatch(ingress: string | undefined, namespace: string, service: string): RouteMatch {
  return {
    kind: 'path',
    ...(ingress !== undefined ? { ingress } : {}),
    backend: { key: `${namespace}/${service}:80`, namespace, service, port: 80 },
    policy: DEFAULT_ROUTE_POLICY,
    tlsHost: false,
  };
}

/** `sample` is one sample's value in the exposition text, or undefined when absent. */
async function sample(m: PorticoMetrics, series: string): Promise<number | undefined> {
  const line = (await m.render()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function seriesOf(m: PorticoMetrics, name: string): Promise<string[]> {
  return (await m.render()).split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('methodLabel', () => {
  const cases: { method: string | undefined; label: string }[] = [
    { method: 'GET', label: 'GET' },
    { method: 'HEAD', label: 'HEAD' },
    { method: 'POST', label: 'POST' },
    { method: 'PUT', label: 'PUT' },
    { method: 'DELETE', label: 'DELETE' },
    { method: 'CONNECT', label: 'CONNECT' },
    { method: 'OPTIONS', label: 'OPTIONS' },
    { method: 'TRACE', label: 'TRACE' },
    { method: 'PATCH', label: 'PATCH' },
    { method: 'PURGE', label: 'OTHER' },
    { method: 'PROPFIND', label: 'OTHER' },
    { method: 'get', label: 'OTHER' },
    { method: 'X'.repeat(1_000), label: 'OTHER' },
    { method: undefined, label: 'OTHER' },
  ];
  for (const c of cases) {
    test(`${String(c.method).slice(0, 12)} is labelled ${c.label}: standard methods keep their name, any other is OTHER`, () => {
      assert.equal(methodLabel(c.method), c.label);
    });
  }
});

describe('statusClass', () => {
  const cases: { status: number; label: string }[] = [
    { status: 101, label: '1xx' },
    { status: 200, label: '2xx' },
    { status: 204, label: '2xx' },
    { status: 308, label: '3xx' },
    { status: 404, label: '4xx' },
    { status: 429, label: '4xx' },
    { status: 499, label: '4xx' },
    { status: 500, label: '5xx' },
    { status: 503, label: '5xx' },
    { status: 599, label: '5xx' },
    { status: 600, label: 'other' },
    { status: 999, label: 'other' },
    { status: 99, label: 'other' },
    { status: 0, label: 'other' },
  ];
  for (const c of cases) {
    test(`status ${c.status} is in class ${c.label}`, () => {
      assert.equal(statusClass(c.status), c.label);
    });
  }
});

describe('routeLabels', () => {
  const cases: { name: string; match: RouteMatch | undefined; labels: ReturnType<typeof routeLabels> }[] = [
    {
      name: 'a route of an Ingress is labelled with the Ingress, its namespace and the Service name',
      match: routeMatch('shop/front', 'shop', 'web'),
      labels: { ingress: 'shop/front', namespace: 'shop', service: 'web' },
    },
    {
      name: 'a backend without an Ingress (default backend) keeps its own namespace',
      match: routeMatch(undefined, 'ingress', 'default-http-backend'),
      labels: { ingress: '', namespace: 'ingress', service: 'default-http-backend' },
    },
    {
      name: 'no route (malformed request) is labelled with empty values',
      match: undefined,
      labels: { ingress: '', namespace: '', service: '' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(routeLabels(c.match), c.labels);
    });
  }
});

describe('RequestMetrics', () => {
  test('latency buckets are cumulative, with +Inf, sum and count', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const match = routeMatch('shop/front', 'shop', 'web');
    for (const seconds of [0.001, 0.005, 0.02, 0.3, 60])
      m.requests.observe(match, 'GET', 200, seconds, -1, 0, 0);
    const series =
      'portico_request_duration_seconds_bucket{ingress="shop/front",namespace="shop",service="web",status="2xx"';
    const cases: { le: string; count: number }[] = [
      { le: '0.005', count: 2 },
      { le: '0.01', count: 2 },
      { le: '0.025', count: 3 },
      { le: '0.25', count: 3 },
      { le: '0.5', count: 4 },
      { le: '10', count: 4 },
      { le: '+Inf', count: 5 },
    ];
    for (const c of cases) assert.equal(await sample(m, `${series},le="${c.le}"}`), c.count, `le=${c.le}`);
    const labels = 'ingress="shop/front",namespace="shop",service="web",status="2xx"';
    assert.equal(await sample(m, `portico_request_duration_seconds_count{${labels}}`), 5);
    assert.ok(
      Math.abs(((await sample(m, `portico_request_duration_seconds_sum{${labels}}`)) ?? 0) - 60.326) < 1e-9,
    );
  });

  test('a scrape written in slices still lists every route once', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const routes = 1_234;
    for (let i = 0; i < routes; i++)
      m.requests.observe(routeMatch(`ns/app-${i}`, 'ns', `svc-${i}`), 'GET', 200, 0.001, -1, 0, 0);
    const lines = await seriesOf(m, 'portico_requests_total');
    assert.equal(lines.length, routes);
    assert.equal(new Set(lines).size, routes);
  });

  test('label values are escaped for the text format', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    m.requests.observe(routeMatch('ns/a"b\\c', 'ns', 'svc'), 'GET', 200, 0.001, -1, 0, 0);
    assert.deepEqual(await seriesOf(m, 'portico_requests_total'), [
      'portico_requests_total{ingress="ns/a\\"b\\\\c",namespace="ns",service="svc",method="GET",status="2xx"} 1',
    ]);
  });

  test('the series of an Ingress that no longer exists are dropped; others and unrouted ones stay', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    m.requests.observe(routeMatch('shop/front', 'shop', 'web'), 'GET', 200, 0.001, 0.001, 0, 1);
    m.requests.observe(routeMatch('shop/old', 'shop', 'legacy'), 'GET', 200, 0.001, 0.001, 0, 1);
    m.requests.observe(undefined, 'GET', 400, 0.001, -1, 0, 1);
    m.requests.retain(new Set(['shop/front']));
    const text = await m.render();
    assert.ok(text.includes('ingress="shop/front"'));
    assert.ok(!text.includes('shop/old'), 'no series of the deleted Ingress');
    assert.ok(
      text.includes('portico_requests_total{ingress="",namespace="",service="",method="GET",status="4xx"} 1'),
    );
  });

  test('one observation counts the request, its latency, upstream latency and both byte counts', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const hook = m.requests;
    hook.observe(routeMatch('shop/front', 'shop', 'web'), 'GET', 200, 0.003, 0.002, 10, 42);
    const labels = 'ingress="shop/front",namespace="shop",service="web"';
    assert.equal(await sample(m, `portico_requests_total{${labels},method="GET",status="2xx"}`), 1);
    assert.equal(
      await sample(m, `portico_request_duration_seconds_bucket{${labels},status="2xx",le="0.005"}`),
      1,
    );
    assert.equal(await sample(m, `portico_upstream_response_duration_seconds_count{${labels}}`), 1);
    assert.equal(await sample(m, `portico_request_bytes_total{${labels}}`), 10);
    assert.equal(await sample(m, `portico_response_bytes_total{${labels}}`), 42);
  });

  test('a built-in answer without upstream records no upstream latency', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    m.requests.observe(undefined, 'GET', 404, 0.001, -1, 0, 30);
    assert.deepEqual(await seriesOf(m, 'portico_upstream_response_duration_seconds_count'), []);
    assert.equal(
      await sample(m, 'portico_requests_total{ingress="",namespace="",service="",method="GET",status="4xx"}'),
      1,
    );
  });

  test('the same route in a new snapshot (a new RouteMatch) continues the same series', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const hook = m.requests;
    hook.observe(routeMatch('shop/front', 'shop', 'web'), 'GET', 200, 0.001, 0.001, 0, 1);
    hook.observe(routeMatch('shop/front', 'shop', 'web'), 'GET', 201, 0.001, 0.001, 0, 1);
    assert.deepEqual(await seriesOf(m, 'portico_requests_total'), [
      'portico_requests_total{ingress="shop/front",namespace="shop",service="web",method="GET",status="2xx"} 2',
    ]);
  });

  test('any number of odd methods and statuses makes at most one series per route, OTHER and other', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const hook = m.requests;
    const match = routeMatch('shop/front', 'shop', 'web');
    for (let i = 0; i < 100; i++) hook.observe(match, `M${i}`, 600 + i, 0.001, -1, 0, 0);
    assert.deepEqual(await seriesOf(m, 'portico_requests_total'), [
      'portico_requests_total{ingress="shop/front",namespace="shop",service="web",method="OTHER",status="other"} 100',
    ]);
  });
});

describe('PorticoMetrics policy and certificate helpers', () => {
  const cases: { denial: Parameters<PorticoMetrics['policyDenied']>[1]; series: string }[] = [
    {
      denial: 'rate-limit',
      series: 'portico_ratelimit_rejected_total{ingress="shop/front",namespace="shop"}',
    },
    {
      denial: 'rate-limit-dry-run',
      series: 'portico_ratelimit_dry_run_rejections_total{ingress="shop/front",namespace="shop"}',
    },
    { denial: 'ip-filter', series: 'portico_ip_filter_denied_total{ingress="shop/front",namespace="shop"}' },
    {
      denial: 'basic-auth',
      series: 'portico_auth_denied_total{ingress="shop/front",namespace="shop",kind="basic"}',
    },
    {
      denial: 'external-auth',
      series: 'portico_auth_denied_total{ingress="shop/front",namespace="shop",kind="external"}',
    },
  ];
  for (const c of cases) {
    test(`a ${c.denial} denial counts in ${c.series.slice(0, c.series.indexOf('{'))}`, async () => {
      const m = new PorticoMetrics({ processMetrics: false });
      m.policyDenied('shop/front', c.denial);
      m.policyDenied('shop/front', c.denial);
      assert.equal(await sample(m, c.series), 2);
    });
  }

  test('the store fallback gauge follows the state; only changes of state count as transitions', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const steps: { state: 'shared' | 'fallback'; fallback: number; toFallback: number; toShared: number }[] =
      [
        { state: 'shared', fallback: 0, toFallback: 0, toShared: 1 },
        { state: 'shared', fallback: 0, toFallback: 0, toShared: 1 },
        { state: 'fallback', fallback: 1, toFallback: 1, toShared: 1 },
        { state: 'fallback', fallback: 1, toFallback: 1, toShared: 1 },
        { state: 'shared', fallback: 0, toFallback: 1, toShared: 2 },
      ];
    for (const step of steps) {
      m.rateLimitStore(step.state);
      assert.equal(await sample(m, 'portico_ratelimit_store_fallback'), step.fallback);
      assert.equal(
        await sample(m, 'portico_ratelimit_store_transitions_total{state="fallback"}'),
        step.toFallback === 0 ? undefined : step.toFallback,
      );
      assert.equal(
        await sample(m, 'portico_ratelimit_store_transitions_total{state="shared"}'),
        step.toShared,
      );
    }
  });

  test('certificate expiry series follow the Secrets in use: set, updated, removed', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    const a = 'portico_ssl_certificate_expiry_timestamp_seconds{namespace="shop",secret="a"}';
    const b = 'portico_ssl_certificate_expiry_timestamp_seconds{namespace="shop",secret="b"}';
    m.certificatesInUse([
      { namespace: 'shop', name: 'a', notAfter: 1_800_000_000_000 },
      { namespace: 'shop', name: 'b', notAfter: 1_900_000_000_000 },
    ]);
    assert.equal(await sample(m, a), 1_800_000_000);
    assert.equal(await sample(m, b), 1_900_000_000);
    m.certificatesInUse([{ namespace: 'shop', name: 'a', notAfter: 1_850_000_000_000 }]);
    assert.equal(await sample(m, a), 1_850_000_000);
    assert.equal(await sample(m, b), undefined);
    m.certificatesInUse([]);
    assert.deepEqual(await seriesOf(m, 'portico_ssl_certificate_expiry_timestamp_seconds'), []);
  });

  test('active connections are read from the source at each scrape', async () => {
    const m = new PorticoMetrics({ processMetrics: false });
    let open = 3;
    m.countConnections(() => open);
    assert.equal(await sample(m, 'portico_active_connections'), 3);
    open = 0;
    assert.equal(await sample(m, 'portico_active_connections'), 0);
  });
});
