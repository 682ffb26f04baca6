/**
 * `PassRunner` runs a status writer's passes one at a time: requests that arrive during a pass
 * coalesce into one more pass, and a failed pass schedules a retry (Contour's status handler loop).
 * The Ingress status writer and the RateLimitPolicy status writer share it.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';

export class PassRunner {
  readonly #pass: () => Promise<boolean>;
  readonly #clock: Clock;
  readonly #retryDelayMs: number;
  #pending = false;
  #running: Promise<void> | undefined;
  #retryTimer: TimerHandle | undefined;
  #stopped = false;

  /** `pass` does one full pass and resolves false when something failed and a retry is due. */
  constructor(pass: () => Promise<boolean>, clock: Clock, retryDelayMs = 5_000) {
    this.#pass = pass;
    this.#clock = clock;
    this.#retryDelayMs = retryDelayMs;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** `request` asks for a pass; one already running is followed by exactly one more. */
  request(): void {
    if (this.#stopped) return;
    this.#pending = true;
    if (this.#running === undefined) this.#running = this.#drain();
  }

  /** `idle` resolves once no pass is running or pending (tests). */
  async idle(): Promise<void> {
    // Bounded: each round finishes one drain; a drain ends once no request came in meanwhile.
    for (let i = 0; i < 1_000 && this.#running !== undefined; i++) await this.#running;
  }

  /** `stop`: no new pass starts, and the running one finishes its current write. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.idle();
  }

  async #drain(): Promise<void> {
    try {
      // Bounded: every round consumes the pending flag; a new one needs a new request.
      for (let round = 0; round < 1_000 && this.#pending && !this.#stopped; round++) {
        this.#pending = false;
        if (!(await this.#pass())) this.#scheduleRetry();
      }
    } finally {
      this.#running = undefined;
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.request();
    }, this.#retryDelayMs);
  }
}
