/**
 * kube-proxy's BoundedFrequencyRunner (pkg/util/async): runs a sync function
 * - at most once per `minIntervalMs` (a burst of endpoint changes becomes one sync),
 * - at least once per `maxIntervalMs` (a periodic sync even when nothing asked for one),
 * - again after `retry` backoff when it fails (doubling from `retryInitialMs` to `retryMaxMs`),
 * - never twice at the same time (a request during a run is remembered and served after it).
 * Time comes from an injected `Clock`, so tests drive it without sleeping (DESIGN §7.9).
 */
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';

export interface BoundedRunnerOptions {
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly clock?: Clock;
}

/** Resolves `true` when the work succeeded, `false` (or rejects) when it must be retried. */
export type RunnerWork = () => Promise<boolean>;

export class BoundedFrequencyRunner {
  readonly #work: RunnerWork;
  readonly #clock: Clock;
  readonly #min: number;
  readonly #max: number;
  readonly #retryInitial: number;
  readonly #retryMax: number;
  #lastRunAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #requested = false;
  #stopped = true;
  #failures = 0;
  #runs = 0;

  constructor(work: RunnerWork, options: BoundedRunnerOptions) {
    if (!(options.minIntervalMs >= 0 && options.maxIntervalMs >= options.minIntervalMs)) {
      throw new Error(
        `BoundedFrequencyRunner: need 0 <= minIntervalMs <= maxIntervalMs, got ${options.minIntervalMs}, ${options.maxIntervalMs}`,
      );
    }
    this.#work = work;
    this.#clock = options.clock ?? realClock;
    this.#min = options.minIntervalMs;
    this.#max = options.maxIntervalMs;
    this.#retryInitial = options.retryInitialMs ?? 1_000;
    this.#retryMax = options.retryMaxMs ?? Math.max(this.#retryInitial, this.#max);
  }

  /** Runs completed (successful or not). */
  get runs(): number {
    return this.#runs;
  }

  /** Starts the loop with an immediate run (the adopting full sync). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** Asks for a run as soon as `minIntervalMs` allows. */
  run(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#requested = true;
      return;
    }
    this.#schedule(Math.max(0, this.#lastRunAt + this.#min - this.#clock.now()));
  }

  /** Keeps the earliest of the pending and the new deadline (a later request never delays an earlier one). */
  #schedule(delayMs: number): void {
    const at = this.#clock.now() + delayMs;
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      void this.#tick();
    }, delayMs);
  }

  async #tick(): Promise<void> {
    if (this.#stopped || this.#running) return;
    this.#running = true;
    this.#requested = false;
    this.#lastRunAt = this.#clock.now();
    let ok: boolean;
    try {
      ok = await this.#work();
    } catch {
      ok = false;
    }
    this.#running = false;
    this.#runs++;
    if (this.#stopped) return;
    if (ok) {
      this.#failures = 0;
      this.#schedule(
        this.#requested ? Math.max(0, this.#lastRunAt + this.#min - this.#clock.now()) : this.#max,
      );
      return;
    }
    const backoff = Math.min(this.#retryMax, this.#retryInitial * 2 ** this.#failures);
    this.#failures++;
    this.#schedule(Math.max(this.#min, this.#requested ? this.#min : backoff));
  }
}
