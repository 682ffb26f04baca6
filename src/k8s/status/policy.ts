/**
 * `policy` writes the `Accepted` condition of RateLimitPolicies (metav1.Condition in
 * `status.conditions`, with `observedGeneration`), so `kubectl get rlp` says whether Portico took a
 * policy and `kubectl describe` says why not. Same rules as the Ingress status writer: leader only,
 * GET then PUT of the status subresource with the fetched resourceVersion (409 → start again, a
 * bounded number of times), and no write when the condition already says the same thing.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { Condition, RateLimitPolicy } from '../../model/objects.js';
import { describeProblems, validateRateLimitPolicy } from '../../model/rate-limit-policy.js';
import type { ObjectStore } from '../../store/object-store.js';
import type { Clock } from '../../util/clock.js';
import { objectKey } from '../../util/keys.js';
import {
  ACCEPTED,
  customStatusClient,
  type StatusWriteOutcome,
  sameCondition,
  withCondition,
  writeStatus,
} from './conditions.js';
import { PassRunner } from './pass-runner.js';

export { ACCEPTED } from './conditions.js';

/** `PolicyStatus` is the status Portico wants a policy to have (`lastTransitionTime` aside). */
export interface PolicyStatus {
  readonly observedGeneration?: number;
  readonly conditions: readonly Condition[];
}

/** `acceptedCondition` is the condition a policy's current version deserves (pure). */
export function acceptedCondition(
  policy: RateLimitPolicy,
  now: string,
): Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime: string } {
  const result = validateRateLimitPolicy(policy);
  const generation = policy.metadata.generation;
  const common = {
    type: ACCEPTED,
    lastTransitionTime: now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  return result.ok
    ? { ...common, status: 'True', reason: 'Accepted', message: 'valid; Ingresses that name it use it' }
    : {
        ...common,
        status: 'False',
        reason: 'Invalid',
        message: `${describeProblems(result.problems)}; Ingresses that name it keep its last good version, if any`,
      };
}

/**
 * `desiredPolicyStatus` is the status to write, or undefined when the current one already says it.
 * The transition time is kept while the condition's status stays the same (metav1 convention).
 */
export function desiredPolicyStatus(policy: RateLimitPolicy, now: string): PolicyStatus | undefined {
  const want = acceptedCondition(policy, now);
  const conditions = policy.status?.conditions ?? [];
  const generation = policy.metadata.generation;
  if (
    sameCondition(
      conditions.find((c) => c.type === ACCEPTED),
      want,
    ) &&
    policy.status?.observedGeneration === generation
  ) {
    return undefined;
  }
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: withCondition(conditions, want),
  };
}

/** `FetchedPolicy` is a policy as just read: Portico's view and the raw object a PUT sends back. */
export interface FetchedPolicy {
  readonly policy: RateLimitPolicy;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** `PolicyStatusApi` is what the writer needs from the API server. */
export interface PolicyStatusApi {
  /** Undefined when the policy does not exist. */
  getPolicy(namespace: string, name: string): Promise<FetchedPolicy | undefined>;
  /** Replaces the status of the fetched version (its resourceVersion is the precondition: 409). */
  updatePolicyStatus(fetched: FetchedPolicy, status: PolicyStatus): Promise<void>;
}

/** `createPolicyStatusApi` backs `PolicyStatusApi` with client-node's CustomObjectsApi. */
export function createPolicyStatusApi(kubeConfig: KubeConfig): PolicyStatusApi {
  const client = customStatusClient(kubeConfig, 'RateLimitPolicy');
  return {
    async getPolicy(namespace, name) {
      const fetched = await client.get(namespace, name);
      return fetched === undefined ? undefined : { policy: fetched.object, raw: fetched.raw };
    },
    updatePolicyStatus: (fetched, status) =>
      client.replaceStatus({ object: fetched.policy, raw: fetched.raw }, status),
  };
}

export type PolicyWriteOutcome = StatusWriteOutcome;

export interface PolicyStatusWriterOptions {
  readonly api: PolicyStatusApi;
  readonly store: ObjectStore;
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Attempts per policy when the update hits 409 Conflict (each re-GETs). Default 5. */
  readonly maxAttempts?: number;
  /** Delay before a pass that had errors is retried. Default 5 s. */
  readonly retryDelayMs?: number;
}

/**
 * `PolicyStatusWriter` runs passes over every stored RateLimitPolicy, one pass at a time;
 * `request` never blocks.
 */
export class PolicyStatusWriter {
  readonly #o: PolicyStatusWriterOptions;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #runner: PassRunner;

  constructor(options: PolicyStatusWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'policy-status' });
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#runner = new PassRunner(() => this.#pass(), options.clock, options.retryDelayMs);
  }

  /** `request` asks for a pass (model or policy change, resync, leadership gained). */
  request(): void {
    this.#runner.request();
  }

  /** `idle` resolves once no pass is running or pending (tests). */
  idle(): Promise<void> {
    return this.#runner.idle();
  }

  /** `stop` ends status writing: no new pass starts, and the running one finishes its current write. */
  stop(): Promise<void> {
    return this.#runner.stop();
  }

  async #pass(): Promise<boolean> {
    if (!this.#o.isLeader()) return true;
    let ok = true;
    for (const { object } of this.#o.store.list('RateLimitPolicy')) {
      if (this.#runner.stopped || !this.#o.isLeader()) break;
      // The store's copy says whether a write is due; `write` checks again after its GET.
      if (desiredPolicyStatus(object, this.#now()) === undefined) continue;
      const outcome = await this.write(object.metadata.namespace ?? 'default', object.metadata.name);
      if (outcome === 'error' || outcome === 'conflict') ok = false;
    }
    return ok;
  }

  #now(): string {
    return new Date(this.#o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** `write` brings one policy's `Accepted` condition up to date: GET, compare, PUT; 409 → again. */
  write(namespace: string, name: string): Promise<PolicyWriteOutcome> {
    return writeStatus({
      kind: 'RateLimitPolicy',
      field: 'policy',
      key: objectKey(namespace, name),
      maxAttempts: this.#maxAttempts,
      logger: this.#log,
      get: () => this.#o.api.getPolicy(namespace, name),
      desired: (fetched) => desiredPolicyStatus(fetched.policy, this.#now()),
      put: (fetched, status) => this.#o.api.updatePolicyStatus(fetched, status),
      mayWrite: () => !this.#runner.stopped && this.#o.isLeader(),
    });
  }
}
