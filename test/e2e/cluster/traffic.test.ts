/**
 * Cluster mode with real traffic: the whole scenario (fake API server, backends, portico) runs
 * inside a network namespace this test creates, because the API server refuses loopback
 * EndpointSlice addresses. See traffic-scenario.ts for the steps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withNetns } from '../../support/netns.js';
import type { ScenarioResult } from './traffic-scenario.js';

const SCENARIO = fileURLToPath(new URL('./traffic-scenario.ts', import.meta.url));
const ADDRESSES = ['10.200.0.1', '10.200.0.2', '10.200.0.3', '10.200.0.4'];

test('cluster mode routes real traffic and follows the API server: scaling, new paths, a restart, deletion', async (t) => {
  await withNetns(t, ADDRESSES, async (netns) => {
    const progress: string[] = [];
    const run = await netns.run([process.execPath, '--import', 'tsx', SCENARIO], {
      timeoutMs: 120_000,
      onStderr: (line) => progress.push(line),
    });
    assert.equal(run.code, 0, `scenario failed:\n${progress.slice(-40).join('\n')}`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as ScenarioResult;
    assert.equal(result.firstAnswer, 'web-1', 'the first snapshot routes to the one endpoint');
    assert.deepEqual(result.spreadOverThree, ['web-1', 'web-2', 'web-3'], 'scaled to three, all get traffic');
    assert.equal(result.noEndpoints, 503, 'no ready endpoints: 503');
    assert.equal(result.secondPath, 'api-1', 'an edited Ingress adds a path');
    assert.deepEqual(
      [...new Set(result.duringOutage)],
      ['web-2'],
      'the last snapshot serves while the API server restarts',
    );
    assert.equal(result.afterRestart, 'web-3', 'changes after the restart arrive');
    assert.equal(result.afterIngressDeleted, 404, 'a deleted Ingress stops routing');
    assert.equal(result.exitCode, 0, 'SIGTERM: exit 0');
    assert.deepEqual(result.uncovered, [], 'every API request is covered by permissions.ts');
  });
});
