/**
 * The RateLimitPolicy `Accepted` condition, pure: what is wanted, when a write is due, and which
 * parts of an existing status are kept (transition time while the status holds, other conditions).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredPolicyStatus } from '../../../../src/k8s/status/policy.js';
import type { Condition, RateLimitPolicy } from '../../../../src/model/objects.js';

const T0 = '2030-01-01T00:00:00Z';
const T1 = '2030-01-02T00:00:00Z';

function policy(
  spec: Record<string, unknown>,
  generation: number,
  status?: RateLimitPolicy['status'],
): RateLimitPolicy {
  return {
    kind: 'RateLimitPolicy',
    metadata: { name: 'api', namespace: 'shop', generation },
    spec,
    ...(status !== undefined ? { status } : {}),
  };
}

const acceptedTrue = (generation: number, at = T0): Condition => ({
  type: 'Accepted',
  status: 'True',
  observedGeneration: generation,
  lastTransitionTime: at,
  reason: 'Accepted',
  message: 'valid; Ingresses that name it use it',
});

const cases: readonly {
  name: string;
  policy: RateLimitPolicy;
  want: ReturnType<typeof desiredPolicyStatus>;
}[] = [
  {
    name: 'a new valid policy gets Accepted=True with its generation',
    policy: policy({ rps: 1 }, 1),
    want: { observedGeneration: 1, conditions: [acceptedTrue(1, T1)] },
  },
  {
    name: 'a status that already says it needs no write',
    policy: policy({ rps: 1 }, 1, { observedGeneration: 1, conditions: [acceptedTrue(1)] }),
    want: undefined,
  },
  {
    name: 'a new generation that stays valid keeps the transition time and moves observedGeneration',
    policy: policy({ rps: 2 }, 2, { observedGeneration: 1, conditions: [acceptedTrue(1)] }),
    want: { observedGeneration: 2, conditions: [acceptedTrue(2, T0)] },
  },
  {
    name: 'turning invalid is a transition: False, reason Invalid, every bad field in the message',
    policy: policy({ rps: 0, store: 'disk' }, 3, { observedGeneration: 2, conditions: [acceptedTrue(2)] }),
    want: {
      observedGeneration: 3,
      conditions: [
        {
          type: 'Accepted',
          status: 'False',
          observedGeneration: 3,
          lastTransitionTime: T1,
          reason: 'Invalid',
          message:
            'spec.rps: 0: must be between 1 and 1000000; spec.store: "disk": must be one of "memory", "redis"; Ingresses that name it keep its last good version, if any',
        },
      ],
    },
  },
  {
    name: "another controller's conditions are kept",
    policy: policy({ rps: 1 }, 1, {
      conditions: [{ type: 'Synced', status: 'True', lastTransitionTime: T0, reason: 'Done', message: '' }],
    }),
    want: {
      observedGeneration: 1,
      conditions: [
        { type: 'Synced', status: 'True', lastTransitionTime: T0, reason: 'Done', message: '' },
        acceptedTrue(1, T1),
      ],
    },
  },
];

for (const c of cases) {
  test(c.name, () => {
    assert.deepEqual(desiredPolicyStatus(c.policy, T1), c.want);
  });
}
