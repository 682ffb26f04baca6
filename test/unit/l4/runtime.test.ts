/**
 * `L4Runtime` in a kernel mode against a recording exec: nothing is translated or applied before
 * the caller's first complete picture (`syncNow`), so the first sync, the one that adopts what a
 * previous process left, carries the real services and never an empty or partial state; and
 * `--cleanup-on-exit` cleans up even when the process stops before its first sync.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exec } from '../../../src/l4/apply/restore.js';
import { L4Runtime } from '../../../src/l4/runtime.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { ConfigMap, EndpointSlice, Service } from '../../../src/model/objects.js';
import { ObjectStore } from '../../../src/store/object-store.js';

const configMap: ConfigMap = {
  kind: 'ConfigMap',
  metadata: { namespace: 'ingress', name: 'tcp-services' },
  data: { '5432': 'db/pg:5432' },
};
const pgService: Service = {
  kind: 'Service',
  metadata: { namespace: 'db', name: 'pg' },
  spec: { ports: [{ name: 'pg', port: 5432, targetPort: 5432, protocol: 'TCP' }] },
};
const pgSlice: EndpointSlice = {
  kind: 'EndpointSlice',
  metadata: { namespace: 'db', name: 'pg-1', labels: { 'kubernetes.io/service-name': 'pg' } },
  addressType: 'IPv4',
  ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
  endpoints: [{ addresses: ['10.0.0.7'] }],
};

function recorder() {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    // `-C` checks say "absent" so jumps get inserted; everything else succeeds with no output.
    return argv.includes('-C') ? { code: 1, stdout: '', stderr: '' } : { code: 0, stdout: '', stderr: '' };
  };
  return { exec, calls };
}

function runtime(store: ObjectStore, exec: Exec, cleanupOnExit = false): L4Runtime {
  return new L4Runtime({
    store,
    translate: { mode: 'iptables', tcpServicesConfigMap: { namespace: 'ingress', name: 'tcp-services' } },
    logger: silentLogger(),
    bindAddress: '127.0.0.1',
    holdoffMs: 1,
    cleanupOnExit,
    exec,
  });
}

/** Bounded wait for the recorder to see a call. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(5);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('a kernel mode applies nothing before the first syncNow, and its first restore carries the services', {
  timeout: 10_000,
}, async () => {
  const store = new ObjectStore();
  const { exec, calls } = recorder();
  const l4 = runtime(store, exec);
  try {
    store.upsert(configMap);
    l4.notify();
    store.upsert(pgService);
    l4.notify();
    await sleep(30);
    assert.equal(calls.length, 0, 'no tool ran on a partial store');
    assert.deepEqual(l4.state.services, [], 'nothing was translated before the first complete picture');

    store.upsert(pgSlice);
    await l4.syncNow();
    await until(() => calls.some((c) => c.argv[0] === 'iptables-restore'), 'the first restore');
    const first = calls.find((c) => c.argv[0] === 'iptables-restore');
    assert.match(first?.input ?? '', /-j DNAT --to-destination 10\.0\.0\.7:5432/);
  } finally {
    await l4.stop();
  }
});

test('after the first syncNow, store changes are translated again', { timeout: 10_000 }, async () => {
  const store = new ObjectStore();
  const { exec } = recorder();
  const l4 = runtime(store, exec);
  try {
    store.upsert(configMap);
    store.upsert(pgService);
    store.upsert(pgSlice);
    await l4.syncNow();
    assert.deepEqual(
      l4.state.services.map((svc) => svc.endpoints.length),
      [1],
    );
    store.upsert({ ...pgSlice, endpoints: [{ addresses: ['10.0.0.7'] }, { addresses: ['10.0.0.8'] }] });
    l4.notify();
    for (let i = 0; i < 200 && l4.state.services[0]?.endpoints.length !== 2; i++) await sleep(5);
    assert.deepEqual(
      l4.state.services.map((svc) => svc.endpoints.length),
      [2],
    );
  } finally {
    await l4.stop();
  }
});

const stops = [
  {
    cleanupOnExit: true,
    rule: 'with --cleanup-on-exit, stopping before the first sync still removes what a previous process left',
  },
  { cleanupOnExit: false, rule: 'without --cleanup-on-exit, stopping before the first sync touches nothing' },
] as const;
for (const c of stops) {
  test(c.rule, { timeout: 10_000 }, async () => {
    const { exec, calls } = recorder();
    const l4 = runtime(new ObjectStore(), exec, c.cleanupOnExit);
    await l4.stop();
    assert.equal(
      calls.some((call) => call.argv[0] === 'iptables-save'),
      c.cleanupOnExit,
      JSON.stringify(calls.map((call) => call.argv.join(' '))),
    );
  });
}
