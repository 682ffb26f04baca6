/**
 * RateLimitPolicy: validation (same rules as the portico.dev annotations), last-good resolution, and
 * translation of Ingresses that name a policy (valid, rejected with and without a last good
 * version, missing, policy next to limit annotations).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { KubeObject, RateLimitPolicy } from '../../../src/model/objects.js';
import {
  type PolicyProblem,
  resolveRateLimitPolicies,
  validateRateLimitPolicy,
} from '../../../src/model/rate-limit-policy.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RateLimitConfig, RoutingModel } from '../../../src/model/types.js';
import {
  ingress,
  ingressClass,
  inputFrom,
  service,
  stored,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const annotationField = (key: string): string => `metadata.annotations["${key}"]`;

function policy(name: string, spec: unknown, namespace = 'shop'): RateLimitPolicy {
  return {
    apiVersion: 'portico.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name, namespace },
    ...(spec === undefined ? {} : { spec: spec as NonNullable<RateLimitPolicy['spec']> }),
  };
}

describe('validateRateLimitPolicy', () => {
  const good: readonly { name: string; spec: unknown; config: RateLimitConfig }[] = [
    {
      name: 'rps and burst: capacity rps + burst, policy named "namespace/name", status 429',
      spec: { rps: 10, burst: 5 },
      config: {
        dialect: 'portico',
        buckets: [{ capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' }],
        key: { kind: 'remote-ip' },
        scope: 'ingress',
        status: 429,
        dryRun: false,
        policy: 'shop/api',
      },
    },
    {
      name: 'every field, as the annotations read them',
      spec: {
        rpm: 600,
        connections: 20,
        key: 'cookie:sid',
        scope: 'path',
        allowlist: ['10.9.8.7/8', '2001:DB8::1'],
        statusCode: 503,
        store: 'redis',
        dryRun: true,
      },
      config: {
        dialect: 'portico',
        buckets: [{ capacity: 600, ratePerSecond: 10, label: '600 rpm' }],
        connections: 20,
        key: { kind: 'cookie', name: 'sid' },
        scope: 'path',
        allowlist: ['10.0.0.0/8', '2001:db8::1/128'],
        status: 503,
        store: 'redis',
        dryRun: true,
        policy: 'shop/api',
      },
    },
  ];
  for (const c of good) {
    test(`accepted: ${c.name}`, () => {
      assert.deepEqual(validateRateLimitPolicy(policy('api', c.spec)), { ok: true, config: c.config });
    });
  }

  const bad: readonly { name: string; spec: unknown; problems: readonly PolicyProblem[] }[] = [
    {
      name: 'no spec',
      spec: undefined,
      problems: [{ field: 'spec', message: 'is required: an object with rps, rpm or connections' }],
    },
    {
      name: 'no limit',
      spec: { burst: 0, dryRun: true },
      problems: [{ field: 'spec', message: 'sets no limit: needs rps, rpm or connections' }],
    },
    {
      name: 'burst without a rate',
      spec: { connections: 3, burst: 2 },
      problems: [
        { field: 'spec.burst', message: 'needs rps or rpm (a burst is extra requests on top of a rate)' },
      ],
    },
    {
      name: 'every bad field is named at once',
      spec: {
        rps: 0,
        rpm: '60',
        burst: 1.5,
        key: 'header:a b',
        scope: 'global',
        statusCode: 302,
        store: 'etcd',
        dryRun: 'yes',
        allowlist: ['10.0.0.0/8', 'nope', '1.2.3.4,5.6.7.8'],
        extra: 1,
      },
      problems: [
        { field: 'spec.rps', message: '0: must be between 1 and 1000000' },
        { field: 'spec.rpm', message: '"60": must be an integer' },
        { field: 'spec.burst', message: '1.5: must be an integer' },
        {
          field: 'spec.key',
          message: `"header:a b": header name "a b" must be a token (letters, digits and !#$%&'*+-.^_\`|~)`,
        },
        { field: 'spec.scope', message: '"global": must be one of "ingress", "path"' },
        { field: 'spec.store', message: '"etcd": must be one of "memory", "redis"' },
        { field: 'spec.statusCode', message: '302: must be between 400 and 599' },
        { field: 'spec.dryRun', message: '"yes": must be true or false' },
        { field: 'spec.allowlist[1]', message: '"nope" is not an IP address or CIDR' },
        { field: 'spec.allowlist[2]', message: '"1.2.3.4,5.6.7.8" is not an IP address or CIDR' },
        { field: 'spec.extra', message: 'unknown field' },
      ],
    },
    {
      name: 'a name that is not a DNS subdomain (file mode accepts any)',
      spec: { rps: 1 },
      problems: [{ field: 'metadata.name', message: 'must be a RateLimitPolicy name (a DNS subdomain)' }],
    },
  ];
  for (const c of bad) {
    test(`rejected: ${c.name}`, () => {
      const name = c.name.startsWith('a name') ? 'Bad_Name' : 'api';
      assert.deepEqual(validateRateLimitPolicy(policy(name, c.spec)), { ok: false, problems: c.problems });
    });
  }

  test('a malformed object never throws', () => {
    for (const junk of [null, {}, { kind: 'RateLimitPolicy' }, { metadata: { name: 'x' }, spec: [] }]) {
      const result = validateRateLimitPolicy(junk as unknown as RateLimitPolicy);
      assert.equal(result.ok, false);
    }
  });
});

describe('resolveRateLimitPolicies', () => {
  test('a rejected edit keeps the last good config in force, and the error names the policy and field', () => {
    const first = resolveRateLimitPolicies([stored(policy('api', { rps: 10 }))]);
    const second = resolveRateLimitPolicies([stored(policy('api', { rps: -1 }))], first.good);
    const state = second.policies.get('shop/api');
    assert.deepEqual(state?.config, first.policies.get('shop/api')?.config);
    assert.equal(state?.rejected, 'spec.rps: -1: must be between 1 and 1000000');
    assert.deepEqual(
      second.diagnostics.map((d) => [d.severity, d.code, d.object, d.field]),
      [['error', 'PORTICO_ERR_RATE_LIMIT_POLICY_INVALID', 'RateLimitPolicy shop/api', 'spec.rps']],
    );
    assert.ok(second.good.has('shop/api'), 'the last good version is carried to the next run');
  });

  test('a policy rejected from the start has no config; a deleted one is forgotten', () => {
    const rejected = resolveRateLimitPolicies([stored(policy('api', {}))]);
    assert.deepEqual(rejected.policies.get('shop/api'), {
      key: 'shop/api',
      rejected: 'spec: sets no limit: needs rps, rpm or connections',
    });
    const good = resolveRateLimitPolicies([stored(policy('api', { rps: 1 }))]);
    assert.equal(resolveRateLimitPolicies([], good.good).good.size, 0);
  });
});

describe('translation with RateLimitPolicies', () => {
  const cls = ingressClass('portico').build();
  const web = service('web').ns('shop').port(80).build();
  const user = (annotations: Record<string, string>) => {
    let b = ingress('store').ns('shop').cls('portico');
    for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
    return b.host('a.test').prefix('/', svc('web', 80)).build();
  };
  const model = (...objects: KubeObject[]): RoutingModel =>
    translate(inputFrom([cls, web, ...objects]), TEST_OPTIONS);
  const policyWarnings = (m: RoutingModel): Diagnostic[] =>
    m.diagnostics.filter(
      (d) => d.code === 'PORTICO_WARN_RATE_LIMIT_POLICY' || d.code === 'PORTICO_WARN_ANNOTATION_IGNORED',
    );

  test('an Ingress naming a valid policy gets its limit on every route, dialect portico', () => {
    const m = model(user({ [`${P}rate-limit-policy`]: 'api' }), policy('api', { rps: 10, burst: 5 }));
    const limit = m.routes[0]?.policy?.rateLimit;
    assert.equal(limit?.policy, 'shop/api');
    assert.equal(limit?.dialect, 'portico');
    assert.deepEqual(limit?.buckets, [{ capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' }]);
    assert.deepEqual(policyWarnings(m), []);
  });

  test('a missing policy: a warning on the Ingress, no limit, the Ingress served', () => {
    const m = model(user({ [`${P}rate-limit-policy`]: 'api' }));
    assert.equal(m.routes[0]?.policy?.rateLimit, undefined);
    assert.equal(m.ingresses[0]?.state, 'served');
    assert.deepEqual(
      policyWarnings(m).map((d) => [d.object, d.field, d.message]),
      [
        [
          'Ingress shop/store',
          annotationField(`${P}rate-limit-policy`),
          'RateLimitPolicy shop/api not found; these routes are not rate limited until it exists',
        ],
      ],
    );
  });

  test('a policy in another namespace is not found', () => {
    const m = model(user({ [`${P}rate-limit-policy`]: 'api' }), policy('api', { rps: 1 }, 'other'));
    assert.equal(m.routes[0]?.policy?.rateLimit, undefined);
    assert.equal(policyWarnings(m).length, 1);
  });

  test('a rejected policy with a last good version: that version stays in force, with a warning', () => {
    const first = resolveRateLimitPolicies([stored(policy('api', { rps: 10 }))]);
    const second = resolveRateLimitPolicies([stored(policy('api', { rps: 10, store: 'disk' }))], first.good);
    const input = {
      ...inputFrom([cls, web, user({ [`${P}rate-limit-policy`]: 'api' })]),
      rateLimitPolicies: second.policies,
    };
    const m = translate(input, TEST_OPTIONS);
    assert.deepEqual(m.routes[0]?.policy?.rateLimit?.buckets, [
      { capacity: 10, ratePerSecond: 10, label: '10 rps' },
    ]);
    assert.deepEqual(
      policyWarnings(m).map((d) => d.message),
      [
        'RateLimitPolicy shop/api is rejected (spec.store: "disk": must be one of "memory", "redis"); keeping its last good version',
      ],
    );
  });

  test('a policy rejected from the start: no limit, with a warning', () => {
    const m = model(user({ [`${P}rate-limit-policy`]: 'api' }), policy('api', { rps: 'many' }));
    assert.equal(m.routes[0]?.policy?.rateLimit, undefined);
    assert.deepEqual(
      policyWarnings(m).map((d) => d.message),
      [
        'RateLimitPolicy shop/api is rejected (spec.rps: "many": must be an integer); it never had a good version, so these routes are not rate limited',
      ],
    );
  });

  test('policy and limit annotations: the policy wins and each annotation is named in a warning', () => {
    const m = model(
      user({ [`${P}rate-limit-policy`]: 'api', [`${N}limit-rps`]: '1', [`${P}ssl-redirect`]: 'false' }),
      policy('api', { rpm: 60 }),
    );
    const route = m.routes[0]?.policy;
    assert.equal(route?.rateLimit?.policy, 'shop/api');
    assert.equal(route?.sslRedirect, false, 'other annotations still apply');
    assert.deepEqual(
      policyWarnings(m).map((d) => [d.code, d.field]),
      [['PORTICO_WARN_ANNOTATION_IGNORED', annotationField(`${N}limit-rps`)]],
    );
  });

  test('both spellings on one Ingress: the portico.dev limit is used and the nginx key is a warning', () => {
    const m = model(user({ [`${P}limit-rps`]: '10', [`${N}limit-rps`]: '1' }));
    assert.equal(m.routes[0]?.policy?.rateLimit?.dialect, 'portico');
    assert.deepEqual(
      policyWarnings(m).map((d) => [d.severity, d.field, d.message]),
      [
        [
          'warning',
          annotationField(`${N}limit-rps`),
          `${N}limit-rps is ignored: ${P}limit-rps is set too and wins`,
        ],
      ],
    );
  });
});
