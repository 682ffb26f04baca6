import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LeaderElector, type LeaseApi, type LeaseRecord, type LeaseState } from '../../../src/k8s/leader.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import { FakeClock } from '../../../src/util/clock.js';

const LEASE = 15_000;
const RENEW = 10_000;
const RETRY = 2_000;

/** `FakeLeases` is one Lease on a pretend API server: resourceVersion preconditions, 409 on races. */
class FakeLeases {
  lease: LeaseState | undefined;
  #rv = 0;
  /** When set, every call fails with this HTTP status. */
  failWith: number | undefined;
  /** When true, calls never answer (a hung connection). */
  hang = false;
  readonly calls: string[] = [];

  #current(): LeaseState {
    if (this.lease === undefined) throw new Error('no lease');
    return this.lease;
  }

  set(record: LeaseRecord): void {
    this.lease = { resourceVersion: String(++this.#rv), record };
  }

  api(who: string): LeaseApi {
    const call = async <T>(what: string, fn: () => T): Promise<T> => {
      this.calls.push(`${who} ${what}`);
      if (this.hang) return new Promise<T>(() => {});
      if (this.failWith !== undefined) throw Object.assign(new Error('failed'), { code: this.failWith });
      return fn();
    };
    return {
      get: () => call('get', () => this.lease),
      create: (record) =>
        call('create', () => {
          if (this.lease !== undefined) throw Object.assign(new Error('exists'), { code: 409 });
          this.set(record);
          return this.#current();
        }),
      update: (previous, record) =>
        call('update', () => {
          if (this.lease?.resourceVersion !== previous.resourceVersion)
            throw Object.assign(new Error('conflict'), { code: 409 });
          this.set(record);
          return this.#current();
        }),
    };
  }
}

/** Lets the fake API's promise chains run; they resolve in microtasks only, so no macrotask is needed. */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await Promise.resolve();
}

function elector(leases: FakeLeases, clock: FakeClock, identity: string) {
  const metrics = new PorticoMetrics({ processMetrics: false });
  const transitions: string[] = [];
  const e = new LeaderElector({
    api: leases.api(identity),
    identity,
    leaseDurationMs: LEASE,
    renewDeadlineMs: RENEW,
    retryPeriodMs: RETRY,
    logger: silentLogger(),
    metrics,
    clock,
    wallClock: () => 1_700_000_000_000 + clock.now(),
    onStartedLeading: () => transitions.push(`${clock.now()} start`),
    onStoppedLeading: () => transitions.push(`${clock.now()} stop`),
  });
  const gauge = async () => (await metrics.leader.get()).values[0]?.value;
  return { e, transitions, gauge };
}

/**
 * Advances the fake clock in 10 ms steps, letting the async attempts settle after each, so an
 * attempt finishes (and schedules the next) at the time it started, as with a fast API server.
 */
async function advance(clock: FakeClock, ms: number, step = 10): Promise<void> {
  clock.advance(0);
  await settle();
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await settle();
  }
}

describe('LeaderElector', () => {
  test('acquires a Lease that does not exist', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 0);
    assert.equal(a.e.isLeader(), true);
    assert.equal(await a.gauge(), 1);
    assert.deepEqual(a.transitions, ['0 start']);
    assert.deepEqual(leases.lease?.record, {
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTimeMs: 1_700_000_000_000,
      renewTimeMs: 1_700_000_000_000,
      leaseTransitions: 0,
    });
    await a.e.stop();
  });

  test('renews every retry period, keeping acquireTime and transitions', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 30_000);
    assert.equal(a.e.isLeader(), true);
    assert.equal(leases.calls.filter((c) => c === 'a update').length, 15);
    assert.equal(leases.lease?.record.acquireTimeMs, 1_700_000_000_000);
    assert.equal(leases.lease?.record.renewTimeMs, 1_700_000_030_000);
    assert.equal(leases.lease?.record.leaseTransitions, 0);
    await a.e.stop();
  });

  test('cannot acquire a Lease another replica keeps renewing', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const b = elector(leases, clock, 'b');
    const a = elector(leases, clock, 'a');
    b.e.start();
    await advance(clock, 100);
    a.e.start();
    await advance(clock, 60_000);
    assert.equal(b.e.isLeader(), true);
    assert.equal(a.e.isLeader(), false);
    assert.equal(await a.gauge(), 0);
    assert.deepEqual(a.transitions, []);
    assert.equal(leases.calls.filter((c) => c === 'a update' || c === 'a create').length, 0);
    await a.e.stop();
    await b.e.stop();
  });

  test('takes over a Lease that stopped changing for leaseDuration, whatever its renewTime says', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    // A crashed holder whose clock ran far ahead: renewTime in the future must not matter.
    leases.set({
      holderIdentity: 'b',
      leaseDurationSeconds: 15,
      renewTimeMs: 4_000_000_000_000,
      leaseTransitions: 3,
    });
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 14_000);
    assert.equal(a.e.isLeader(), false);
    await advance(clock, LEASE + RETRY - 14_000);
    assert.equal(a.e.isLeader(), true);
    assert.deepEqual(a.transitions, ['16000 start']);
    assert.equal(leases.lease?.record.holderIdentity, 'a');
    assert.equal(leases.lease?.record.leaseTransitions, 4);
    assert.equal(leases.lease?.record.acquireTimeMs, 1_700_000_016_000);
    await a.e.stop();
  });

  test('an expired-looking Lease that changes again is not taken (the observation restarts)', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    leases.set({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 0 });
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 10_000);
    leases.set({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 0 });
    await advance(clock, 10_000);
    assert.equal(a.e.isLeader(), false);
    await advance(clock, 8_000);
    assert.equal(a.e.isLeader(), true);
    await a.e.stop();
  });

  test('two candidates racing for a free Lease: exactly one wins, the other gets 409', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    const b = elector(leases, clock, 'b');
    a.e.start();
    b.e.start();
    await advance(clock, 20_000);
    assert.deepEqual(leases.calls.slice(0, 4), ['a get', 'b get', 'a create', 'b create']);
    assert.equal(a.e.isLeader(), true);
    assert.equal(b.e.isLeader(), false);
    await a.e.stop();
    await b.e.stop();
  });

  test('a stale update (409) does not make a leader', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    leases.set({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const a = elector(leases, clock, 'a');
    const api = leases.api('x');
    // Someone else writes between a's GET and a's update.
    const original = leases.api('a');
    const racing: LeaseApi = {
      get: async () => {
        const got = await original.get();
        if (got)
          await api.update(got, { holderIdentity: 'x', leaseDurationSeconds: 15, leaseTransitions: 1 });
        return got;
      },
      create: original.create,
      update: original.update,
    };
    const e = new LeaderElector({
      api: racing,
      identity: 'a',
      leaseDurationMs: LEASE,
      renewDeadlineMs: RENEW,
      retryPeriodMs: RETRY,
      logger: silentLogger(),
      clock,
    });
    e.start();
    await advance(clock, 0);
    assert.equal(e.isLeader(), false);
    assert.equal(leases.lease?.record.holderIdentity, 'x');
    await e.stop();
    await a.e.stop();
  });

  test('renewals failing: stops leading at the renew deadline, not later', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 4_000); // last successful renew at t=4000
    leases.failWith = 500;
    await advance(clock, RENEW - 500);
    assert.equal(a.e.isLeader(), true);
    await advance(clock, 500);
    assert.equal(a.e.isLeader(), false);
    assert.equal(await a.gauge(), 0);
    assert.deepEqual(a.transitions, ['0 start', '14000 stop']);
    // The API comes back: the Lease still names a, so a takes it again.
    leases.failWith = undefined;
    await advance(clock, RETRY);
    assert.equal(a.e.isLeader(), true);
    await a.e.stop();
  });

  test('a hung API call: leadership ends at the deadline and the loop carries on', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 2_000);
    leases.hang = true;
    await advance(clock, RENEW);
    assert.equal(a.e.isLeader(), false);
    leases.hang = false;
    await advance(clock, RENEW + RETRY);
    assert.equal(a.e.isLeader(), true);
    await a.e.stop();
  });

  test('another holder seen while leading: steps down at once', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 1_000);
    leases.set({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 1 });
    await advance(clock, RETRY);
    assert.equal(a.e.isLeader(), false);
    assert.deepEqual(a.transitions, ['0 start', '2000 stop']);
    await a.e.stop();
  });

  test('stop releases the Lease, and another replica takes it on its next attempt', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = elector(leases, clock, 'a');
    const b = elector(leases, clock, 'b');
    a.e.start();
    await advance(clock, 100);
    b.e.start();
    await advance(clock, 5_000);
    await a.e.stop();
    assert.equal(a.e.isLeader(), false);
    assert.deepEqual(a.transitions, ['0 start', '5100 stop']);
    assert.equal(leases.lease?.record.holderIdentity, '');
    assert.equal(leases.lease?.record.leaseDurationSeconds, 1);
    await advance(clock, RETRY);
    assert.equal(b.e.isLeader(), true);
    assert.equal(leases.lease?.record.leaseTransitions, 1);
    await b.e.stop();
    assert.equal(clock.pending, 0);
  });

  test('stop of a non-leader leaves the Lease alone and clears its timers', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    leases.set({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 0 });
    const a = elector(leases, clock, 'a');
    a.e.start();
    await advance(clock, 3_000);
    const before = leases.lease;
    await a.e.stop();
    assert.equal(leases.lease, before);
    assert.equal(clock.pending, 0);
  });

  test('rejects timings client-go would reject', () => {
    assert.throws(
      () =>
        new LeaderElector({
          api: new FakeLeases().api('a'),
          identity: 'a',
          leaseDurationMs: 10_000,
          renewDeadlineMs: 10_000,
          retryPeriodMs: 2_000,
          logger: silentLogger(),
        }),
      /leaseDuration > renewDeadline > retryPeriod/,
    );
  });
});
