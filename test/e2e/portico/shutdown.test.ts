import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { get, manifestDir, startPortico } from '../../support/portico-process.js';
import { startPods, yamlOf } from './helpers.js';

interface Outcome {
  readonly at: number;
  readonly status?: number;
  readonly error?: string;
}

test('SIGTERM with --shutdown-delay 2s: readyz 503 at once, no refused or reset request during the delay, exit 0', async (t) => {
  const pods = await startPods('web');
  const dir = await manifestDir({
    'all.yaml': yamlOf(
      ingressClass('portico').build(),
      ...pods.objects,
      ingress('x').cls('portico').host('x.test').prefix('/', svc('web', 80)).build(),
    ),
  });
  t.after(async () => {
    await pods.close();
    await dir.cleanup();
  });
  const portico = await startPortico({
    manifests: dir.dir,
    args: ['--shutdown-delay', '2s', '--drain-timeout', '2s'],
  });
  t.after(() => portico.stop('SIGKILL'));

  const delayMs = 2_000;
  // Margin for signal delivery and scheduling on a busy machine.
  const marginMs = 300;
  const start = Date.now();
  let sigtermAt = Number.POSITIVE_INFINITY;
  const outcomes: Outcome[] = [];
  const readyz: Outcome[] = [];

  const requests = (async () => {
    // Bounded: at most 2000 requests or 2.5 s, whichever comes first.
    for (let i = 0; i < 2_000 && Date.now() - start < 2_500; i++) {
      const at = Date.now();
      try {
        const res = await get(portico.httpPort, '/', { host: 'x.test', timeoutMs: 5_000 });
        outcomes.push({ at, status: res.status });
      } catch (err) {
        outcomes.push({ at, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
  })();
  const probes = (async () => {
    for (let i = 0; i < 100 && Date.now() - start < 2_000; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() < sigtermAt + 50) continue;
      const at = Date.now();
      try {
        readyz.push({ at, status: (await get(portico.adminPort, '/readyz')).status });
      } catch (err) {
        readyz.push({ at, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
  })();

  await new Promise((r) => setTimeout(r, 300));
  sigtermAt = Date.now();
  portico.child.kill('SIGTERM');
  await Promise.all([requests, probes]);
  const code = await portico.exited;

  const before = outcomes.filter((o) => o.at < sigtermAt);
  const during = outcomes.filter((o) => o.at >= sigtermAt && o.at < sigtermAt + delayMs - marginMs);
  assert.ok(before.length > 0, 'requests before SIGTERM');
  assert.ok(during.length > 5, `requests during the delay: ${during.length}`);
  const bad = during.filter((o) => o.status !== 200);
  assert.deepEqual(bad, [], 'every request during the shutdown delay is answered 200');
  assert.ok(readyz.length > 0, 'readyz probed during the delay');
  assert.ok(
    readyz.filter((o) => o.at < sigtermAt + delayMs - marginMs).every((o) => o.status === 503),
    `readyz during the delay: ${JSON.stringify(readyz)}`,
  );
  assert.equal(code, 0);
  assert.ok(portico.logs.some((l) => l.msg === 'shutting down' && l['signal'] === 'SIGTERM'));
  assert.ok(
    portico.logs.some((l) => l.msg === 'stopped'),
    'the last log line is flushed before exit',
  );
});

test('SIGINT also shuts down cleanly with exit 0', async (t) => {
  const dir = await manifestDir({ 'empty.yaml': '' });
  t.after(() => dir.cleanup());
  const portico = await startPortico({ manifests: dir.dir });
  t.after(() => portico.stop('SIGKILL'));
  assert.equal(await portico.stop('SIGINT'), 0);
});
