/**
 * `clock` abstracts time for code that schedules work (debounce, retries), so tests drive it with a
 * fake clock instead of sleeping (kube-proxy's injected clock, DESIGN §7.9).
 */

/** `TimerHandle` is an opaque token returned by `Clock.setTimeout`. */
export interface TimerHandle {
  readonly id: number;
}

/** `Clock` is the minimum of time a scheduler needs: the current time and one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** `realClock` is backed by `performance.now()` and Node's timers. */
export const realClock: Clock = (() => {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 0;
  return {
    now: () => performance.now(),
    setTimeout(fn, ms) {
      const id = ++next;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      timers.set(id, t);
      return { id };
    },
    clearTimeout(handle) {
      const t = timers.get(handle.id);
      if (t !== undefined) {
        clearTimeout(t);
        timers.delete(handle.id);
      }
    },
  };
})();

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * `FakeClock` is a manually advanced clock for tests. `advance` fires due timers in time order, each
 * seeing `now()` equal to its due time, so code under test observes a consistent timeline.
 */
export class FakeClock implements Clock {
  #now: number;
  #next = 0;
  #timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#next;
    this.#timers.push({ id, at: this.#now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle.id);
  }

  /** `pending` counts timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** `advance` moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    // Bounded: each iteration removes one timer; a timer may schedule new ones, but only in the
    // future or at the same instant, and the guard stops runaway zero-delay loops.
    for (let guard = 0; guard < 100_000; guard++) {
      let due: FakeTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= target && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id)))
          due = t;
      }
      if (due === undefined) break;
      const fired = due;
      this.#timers = this.#timers.filter((t) => t.id !== fired.id);
      this.#now = Math.max(this.#now, fired.at);
      fired.fn();
    }
    this.#now = target;
  }
}
