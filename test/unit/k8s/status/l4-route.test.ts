/**
 * `desiredL4RouteStatus`: what the L4Route status writer would write for a route, a verdict and a
 * mode, or nothing when the stored status already says it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredL4RouteStatus } from '../../../../src/k8s/status/l4-route.js';
import type { L4RouteVerdict } from '../../../../src/l4/translate.js';
import type { Condition, L4Route } from '../../../../src/model/objects.js';

const NOW = '2026-01-02T03:04:05Z';
const EARLIER = '2025-01-01T00:00:00Z';
const ok: L4RouteVerdict = {
  accepted: true,
  reason: 'Accepted',
  message: 'TCP 6000 → Service db/pg port 5432',
};
const conflict: L4RouteVerdict = {
  accepted: false,
  reason: 'PortConflict',
  message: 'spec.listenPort: taken',
};

const condition = (over: Partial<Condition> = {}): Condition => ({
  type: 'Accepted',
  status: 'True',
  reason: 'Accepted',
  message: 'TCP 6000 → Service db/pg port 5432 (--l4-mode userspace)',
  observedGeneration: 2,
  lastTransitionTime: EARLIER,
  ...over,
});

const route = (status?: L4Route['status']): L4Route => ({
  kind: 'L4Route',
  metadata: { namespace: 'db', name: 'pg', generation: 2 },
  spec: {},
  ...(status !== undefined ? { status } : {}),
});

const cases = [
  {
    name: 'a route without status gets the mode and the condition, observedGeneration set',
    route: route(),
    verdict: ok,
    want: { observedGeneration: 2, mode: 'userspace', conditions: [condition({ lastTransitionTime: NOW })] },
  },
  {
    name: 'a status that already says it is not written again',
    route: route({ observedGeneration: 2, mode: 'userspace', conditions: [condition()] }),
    verdict: ok,
    want: undefined,
  },
  {
    name: 'another mode is a write, the transition time kept while the status stays True',
    route: route({ observedGeneration: 2, mode: 'iptables', conditions: [condition()] }),
    verdict: ok,
    want: { observedGeneration: 2, mode: 'userspace', conditions: [condition()] },
  },
  {
    name: 'a rejection flips the condition with a new transition time, other conditions kept',
    route: route({
      observedGeneration: 2,
      mode: 'userspace',
      conditions: [
        { type: 'Other', status: 'True', reason: 'X', message: '', lastTransitionTime: EARLIER },
        condition(),
      ],
    }),
    verdict: conflict,
    want: {
      observedGeneration: 2,
      mode: 'userspace',
      conditions: [
        { type: 'Other', status: 'True', reason: 'X', message: '', lastTransitionTime: EARLIER },
        condition({
          status: 'False',
          reason: 'PortConflict',
          message: 'spec.listenPort: taken (--l4-mode userspace)',
          lastTransitionTime: NOW,
        }),
      ],
    },
  },
  {
    name: 'a route the translation has not seen yet gets no write',
    route: route(),
    verdict: undefined,
    want: undefined,
  },
] as const;

for (const c of cases) {
  test(c.name, () => {
    assert.deepEqual(desiredL4RouteStatus(c.route, c.verdict, 'userspace', NOW), c.want);
  });
}
