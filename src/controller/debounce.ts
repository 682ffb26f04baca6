/**
 * `debounce` coalesces bursts of change notifications into few rebuilds: Contour's holdoff (wait a
 * little after the last change) with a ceiling (never wait more than this after the first one).
 */
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';

export interface DebounceOptions {
  /** Quiet time after the latest trigger before running. */
  readonly holdoffMs: number;
  /** Upper bound between the first trigger of a burst and the run, however busy the burst is. */
  readonly maxDelayMs: number;
  readonly clock?: Clock;
}

/** `DEFAULT_HOLDOFF_MS` and `DEFAULT_MAX_DELAY_MS` are the controller's defaults (DESIGN §4). */
export const DEFAULT_HOLDOFF_MS = 100;
export const DEFAULT_MAX_DELAY_MS = 500;

/**
 * `Debouncer` runs its action once per burst of `trigger` calls. It carries no payload: the action
 * reads the current state when it runs, so the latest state always wins and nothing queues up
 * (Traefik's buffer of one).
 */
export class Debouncer {
  readonly #action: () => void;
  readonly #holdoffMs: number;
  readonly #maxDelayMs: number;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #firstAt: number | undefined;
  #stopped = false;

  constructor(action: () => void, options: DebounceOptions) {
    if (options.holdoffMs < 0 || options.maxDelayMs < options.holdoffMs) {
      throw new RangeError('Debouncer needs 0 <= holdoffMs <= maxDelayMs');
    }
    this.#action = action;
    this.#holdoffMs = options.holdoffMs;
    this.#maxDelayMs = options.maxDelayMs;
    this.#clock = options.clock ?? realClock;
  }

  /** `pending` is true while a run is scheduled. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** `trigger` notes a change; the action runs after the holdoff, or at the ceiling at the latest. */
  trigger(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    this.#firstAt ??= now;
    const due = Math.min(now + this.#holdoffMs, this.#firstAt + this.#maxDelayMs);
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, due - now));
  }

  /** `flush` runs a scheduled action now instead of waiting; a no-op when nothing is pending. */
  flush(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#fire();
  }

  /** `stop` cancels any scheduled run and ignores later triggers. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstAt = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firstAt = undefined;
    // Triggers that arrive while the action runs start a new burst, so they are never lost.
    this.#action();
  }
}
