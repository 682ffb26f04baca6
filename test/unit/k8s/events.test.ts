import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EVENT_REASONS,
  type EventApi,
  EventCorrelator,
  EventRecorder,
  eventNamer,
  type Occurrence,
  occurrencesOf,
  type PorticoEvent,
} from '../../../src/k8s/events.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import type { Diagnostic, DiagnosticCode } from '../../../src/model/diagnostics.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { FakeClock } from '../../../src/util/clock.js';
import { ingress, svc } from '../../support/builders.js';

const WALL0 = 1_700_000_000_000;

function diag(code: DiagnosticCode, object: string, field: string, message: string): Diagnostic {
  return { severity: code.startsWith('PORTICO_ERR') ? 'error' : 'warning', code, object, field, message };
}

function storeWith(...names: string[]): ObjectStore {
  const store = new ObjectStore();
  for (const name of names) {
    const built = ingress(name)
      .cls('portico')
      .host('a.example')
      .prefix('/', svc('web', 80))
      .resourceVersion('7')
      .build();
    store.upsert({ ...built, metadata: { ...built.metadata, uid: `uid-${name}` } });
  }
  return store;
}

function occ(name: string, reason = 'ServiceNotFound', message = 'm'): Occurrence {
  return {
    key: `default/${name}\u0000uid-${name}\u0000${reason}\u0000${message}`,
    subject: { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', namespace: 'default', name },
    reason,
    message,
  };
}

describe('occurrencesOf', () => {
  test('every diagnostic code the issue names has a CamelCase reason', () => {
    const want: Partial<Record<DiagnosticCode, string>> = {
      PORTICO_ERR_PATH_INVALID: 'InvalidPath',
      PORTICO_ERR_HOST_INVALID: 'InvalidHost',
      PORTICO_WARN_SERVICE_MISSING: 'ServiceNotFound',
      PORTICO_WARN_SERVICE_PORT_MISSING: 'ServicePortNotFound',
      PORTICO_WARN_PATH_CONFLICT: 'PathConflict',
      PORTICO_WARN_KEEPING_LAST_GOOD: 'KeepingLastGood',
      PORTICO_WARN_DEFAULT_BACKEND_CONFLICT: 'DefaultBackendConflict',
    };
    for (const [code, reason] of Object.entries(want))
      assert.equal(EVENT_REASONS[code as DiagnosticCode], reason);
    for (const reason of Object.values(EVENT_REASONS)) if (reason) assert.match(reason, /^[A-Z][A-Za-z]+$/);
  });

  test('a diagnostic on a stored Ingress becomes an occurrence with field, uid and resourceVersion', () => {
    const got = occurrencesOf(
      [
        diag(
          'PORTICO_ERR_PATH_INVALID',
          'Ingress default/shop',
          'spec.rules[0].http.paths[0].path',
          'must start with "/"',
        ),
      ],
      storeWith('shop'),
    );
    assert.deepEqual(got, [
      {
        key: 'default/shop\u0000uid-shop\u0000InvalidPath\u0000spec.rules[0].http.paths[0].path: must start with "/"',
        subject: {
          kind: 'Ingress',
          apiVersion: 'networking.k8s.io/v1',
          namespace: 'default',
          name: 'shop',
          uid: 'uid-shop',
          resourceVersion: '7',
        },
        reason: 'InvalidPath',
        message: 'spec.rules[0].http.paths[0].path: must start with "/"',
      },
    ]);
  });

  const skipped: readonly [string, Diagnostic][] = [
    ['an Ingress not in the store', diag('PORTICO_WARN_SERVICE_MISSING', 'Ingress default/gone', '', 'x')],
    ['an object that is not an Ingress', diag('PORTICO_WARN_UNSUPPORTED', 'Service default/shop', '', 'x')],
    [
      'a manifest parse error (file mode)',
      diag('PORTICO_ERR_MANIFEST_PARSE', 'Ingress default/shop', '', 'x'),
    ],
  ];
  for (const [name, d] of skipped) {
    test(`no occurrence for ${name}`, () => assert.deepEqual(occurrencesOf([d], storeWith('shop')), []));
  }

  test('identical diagnostics fold into one occurrence', () => {
    const d = diag(
      'PORTICO_WARN_PATH_CONFLICT',
      'Ingress default/shop',
      'spec.rules[0]',
      'lost to default/old',
    );
    assert.equal(occurrencesOf([d, d], storeWith('shop')).length, 1);
  });

  test('long messages are cut to 1024 characters', () => {
    const d = diag('PORTICO_WARN_SERVICE_MISSING', 'Ingress default/shop', '', 'x'.repeat(5_000));
    assert.equal(occurrencesOf([d], storeWith('shop'))[0]?.message.length, 1_024);
  });
});

describe('EventCorrelator', () => {
  type Step = {
    readonly at: number;
    readonly present: readonly Occurrence[];
    readonly want: readonly string[];
  };
  const cases: readonly { readonly name: string; readonly steps: readonly Step[] }[] = [
    {
      name: 'a new occurrence creates an Event',
      steps: [{ at: 0, present: [occ('a')], want: ['create a#1'] }],
    },
    {
      name: 'seen again within a minute: counted, not written',
      steps: [
        { at: 0, present: [occ('a')], want: ['create a#1'] },
        { at: 10_000, present: [occ('a')], want: [] },
        { at: 59_999, present: [occ('a')], want: [] },
      ],
    },
    {
      name: 'seen again after a minute: one patch with the count so far',
      steps: [
        { at: 0, present: [occ('a')], want: ['create a#1'] },
        { at: 10_000, present: [occ('a')], want: [] },
        { at: 60_000, present: [occ('a')], want: ['patch a#3'] },
        { at: 70_000, present: [occ('a')], want: [] },
        { at: 120_000, present: [occ('a')], want: ['patch a#5'] },
      ],
    },
    {
      name: 'gone and back later: a new occurrence, a new Event',
      steps: [
        { at: 0, present: [occ('a')], want: ['create a#1'] },
        { at: 1_000, present: [], want: [] },
        { at: 2_000, present: [occ('a')], want: ['create a#1'] },
      ],
    },
    {
      name: 'a different message is a different Event',
      steps: [
        { at: 0, present: [occ('a', 'ServiceNotFound', 'm1')], want: ['create a#1'] },
        {
          at: 1_000,
          present: [occ('a', 'ServiceNotFound', 'm1'), occ('a', 'ServiceNotFound', 'm2')],
          want: ['create a#1'],
        },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const names = new Set<string>();
      const correlator = new EventCorrelator();
      for (const step of c.steps) {
        const actions = correlator.observe(step.present, step.at, WALL0 + step.at);
        for (const a of actions) if (a.kind === 'create') names.add(a.name);
        assert.deepEqual(
          actions.map((a) => `${a.kind} ${a.occurrence.subject.name}#${a.count}`),
          step.want,
          `at ${step.at}`,
        );
      }
      // Every create got its own name.
      const creates = c.steps.flatMap((s) => s.want).filter((w) => w.startsWith('create')).length;
      assert.equal(names.size, creates);
    });
  }

  test('flush patches pending repeats once the minute is up', () => {
    const correlator = new EventCorrelator();
    correlator.observe([occ('a')], 0, WALL0);
    assert.equal(correlator.nextFlushAt(), undefined);
    correlator.observe([occ('a')], 5_000, WALL0 + 5_000);
    assert.equal(correlator.nextFlushAt(), 60_000);
    assert.deepEqual(correlator.flush(59_000), []);
    const [patch] = correlator.flush(60_000);
    assert.equal(patch?.kind, 'patch');
    assert.equal(patch?.count, 2);
    assert.equal(patch?.lastTimestampMs, WALL0 + 5_000);
    assert.equal(correlator.nextFlushAt(), undefined);
  });

  test('event names are <object>.<hex nanoseconds>, unique within a millisecond', () => {
    const name = eventNamer();
    const subject = occ('shop').subject;
    const a = name(subject, WALL0);
    const b = name(subject, WALL0);
    assert.match(a, /^shop\.[0-9a-f]+$/);
    assert.notEqual(a, b);
  });
});

class FakeEvents implements EventApi {
  readonly events = new Map<string, PorticoEvent>();
  readonly calls: string[] = [];
  failWith: number | undefined;
  async create(event: PorticoEvent): Promise<void> {
    this.calls.push(`create ${event.reason} ${event.count}`);
    if (this.failWith !== undefined) throw Object.assign(new Error('x'), { code: this.failWith });
    this.events.set(event.name, event);
  }
  async patch(_namespace: string, name: string, count: number, lastTimestampMs: number): Promise<void> {
    this.calls.push(`patch ${count}`);
    const e = this.events.get(name);
    if (e === undefined) throw Object.assign(new Error('not found'), { code: 404 });
    this.events.set(name, { ...e, count, lastTimestampMs });
  }
}

function recorder(leader: () => boolean = () => true) {
  const api = new FakeEvents();
  const clock = new FakeClock();
  const metrics = new PorticoMetrics({ processMetrics: false });
  const store = storeWith('shop');
  const r = new EventRecorder({
    api,
    store,
    identity: 'portico-0',
    isLeader: leader,
    logger: silentLogger(),
    metrics,
    clock,
    wallClock: () => WALL0 + clock.now(),
  });
  return { api, clock, metrics, r };
}

const missing: RoutingModel = {
  routes: [],
  hostDefaults: new Map(),
  ingresses: [],
  diagnostics: [
    diag(
      'PORTICO_WARN_SERVICE_MISSING',
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].backend',
      'Service default/web not found',
    ),
  ],
};
const clean: RoutingModel = { ...missing, diagnostics: [] };

describe('EventRecorder', () => {
  test('creates a Warning Event with the identity as reporting instance, and counts it', async () => {
    const { api, metrics, r } = recorder();
    r.observe(missing);
    await r.idle();
    const [event] = api.events.values();
    assert.equal(event?.reason, 'ServiceNotFound');
    assert.equal(event?.reportingInstance, 'portico-0');
    assert.equal(event?.message, 'spec.rules[0].http.paths[0].backend: Service default/web not found');
    assert.equal(event?.subject.uid, 'uid-shop');
    const counted = (await metrics.events.get()).values;
    assert.deepEqual(
      counted.map((v) => [v.labels, v.value]),
      [[{ type: 'Warning', reason: 'ServiceNotFound' }, 1]],
    );
  });

  test('repeats patch the same Event at most once a minute; the flush timer reports the rest', async () => {
    const { api, clock, r } = recorder();
    r.observe(missing);
    await r.idle();
    clock.advance(1_000);
    r.observe(missing);
    clock.advance(1_000);
    r.observe(missing);
    await r.idle();
    assert.deepEqual(api.calls, ['create ServiceNotFound 1']);
    clock.advance(58_000);
    await r.idle();
    assert.deepEqual(api.calls, ['create ServiceNotFound 1', 'patch 3']);
    assert.equal(api.events.size, 1);
    assert.equal([...api.events.values()][0]?.lastTimestampMs, WALL0 + 2_000);
    await r.stop();
    assert.equal(clock.pending, 0);
  });

  test('an expired Event (patch 404) is created again', async () => {
    const { api, clock, r } = recorder();
    r.observe(missing);
    await r.idle();
    api.events.clear();
    clock.advance(60_000);
    r.observe(missing);
    await r.idle();
    assert.deepEqual(api.calls, ['create ServiceNotFound 1', 'patch 2', 'create ServiceNotFound 2']);
  });

  test('a diagnostic that goes away and comes back is a new Event', async () => {
    const { api, r } = recorder();
    r.observe(missing);
    r.observe(clean);
    await r.idle();
    r.observe(missing);
    await r.idle();
    assert.equal(api.events.size, 2);
  });

  test('not leader: nothing is emitted', async () => {
    const { api, r } = recorder(() => false);
    r.observe(missing);
    await r.idle();
    assert.deepEqual(api.calls, []);
  });

  test('a failed create is retried as a new occurrence on the next run; errors never throw', async () => {
    const { api, r } = recorder();
    api.failWith = 500;
    r.observe(missing);
    await r.idle();
    api.failWith = undefined;
    r.observe(missing);
    await r.idle();
    assert.deepEqual(api.calls, ['create ServiceNotFound 1', 'create ServiceNotFound 1']);
    assert.equal(api.events.size, 1);
  });
});
