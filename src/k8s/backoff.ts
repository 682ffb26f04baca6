/**
 * `backoff` spaces out informer restarts after list or watch failures: capped exponential delays
 * with jitter, so a fleet of replicas that all lost the API server at once (an upgrade, a restart)
 * does not come back in lockstep and hammer it.
 */

export interface BackoffOptions {
  /** First delay. */
  readonly initialMs?: number;
  /** Ceiling: no delay is ever longer than this. */
  readonly maxMs?: number;
  readonly factor?: number;
  /**
   * Fraction of the delay taken away at random: 0.5 spreads a 1 s step over [0.5 s, 1 s]. Jitter
   * only shortens, so `maxMs` stays a true ceiling.
   */
  readonly jitter?: number;
  /** Uniform in [0, 1); injected for tests. */
  readonly random?: () => number;
}

/** `DEFAULT_BACKOFF` is 200 ms doubling to 30 s, up to half of each step taken off at random. */
export const DEFAULT_BACKOFF: Required<Omit<BackoffOptions, 'random'>> = {
  initialMs: 200,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/** `Backoff` hands out the delay before each retry; `reset` after a success starts over. */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.#max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
    this.#factor = options.factor ?? DEFAULT_BACKOFF.factor;
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULT_BACKOFF.jitter));
    this.#random = options.random ?? Math.random;
  }

  /** `attempts` is the number of delays handed out since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** `next` returns the delay before the next retry and moves one step up. */
  next(): number {
    // Capped before multiplying further, so a long outage cannot overflow to Infinity.
    const step = Math.min(this.#max, this.#initial * this.#factor ** Math.min(this.#attempt, 64));
    this.#attempt++;
    return Math.round(step * (1 - this.#jitter * this.#random()));
  }

  /** `reset` starts over from the first delay. */
  reset(): void {
    this.#attempt = 0;
  }
}
