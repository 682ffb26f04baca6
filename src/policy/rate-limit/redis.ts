/**
 * `redis` is the shared store: the GCRA steps of `gcra.ts` as one Lua script, so a limit is one
 * bucket across every Portico replica, and the connection state machine (`shared` ⇄ `fallback`)
 * that keeps a request from ever waiting on a dead or slow Redis.
 *
 * What rate-limiter-flexible (v11) offers here and why Portico does not route through it:
 * - `RateLimiterRedis` stores a fixed-window counter (`incrby` + `expire`). A fixed window admits
 *   up to twice its limit across the window edge (29 requests in 2 ms for "15 per second", where
 *   the promised 10 rps + burst 5 bucket admits 15: measured in `memory.test.ts`).
 * - `customIncrTtlLuaScript` would let our script run instead, but its contract does not carry the
 *   semantics: the script is registered under one command name (`rlflxIncr`) per client, so every
 *   zone sharing Portico's connection would overwrite the others' script; it receives one key
 *   (no all-or-nothing across an rps and an rpm bucket), integer points and whole-second durations
 *   (a 10 rps bucket has a 100 ms interval; durations under 1 s bypass the script for a MULTI),
 *   and its answer is parsed as `{consumed, ttl}`, which cannot carry remaining, reset and
 *   retry-after separately.
 * - `insuranceLimiter` is called with the same points and duration on a RateLimiterMemory, i.e.
 *   the whole limit per replica (not a share) in a fixed window; `RLWrapperTimeouts` arms a timer
 *   and two promises per call. Both are a few lines here with the right semantics.
 * What is used is what rate-limiter-flexible itself uses for ioredis: `defineCommand`, which sends
 * EVALSHA and falls back to EVAL (loading the script) on NOSCRIPT; and its `rejectIfRedisNotReady`
 * idea: a command is only sent when the client is `ready`, otherwise the fallback answers at once.
 *
 * Never hang, never fail closed: ioredis runs with `enableOfflineQueue: false` (no request queues
 * behind a dead connection), `commandTimeout` = the engine's timeout (50 ms by default) and no
 * resend of unfulfilled commands after a reconnect. Any error, or `TIMEOUTS_BEFORE_FALLBACK`
 * timeouts in a row, switch to `fallback` (a single timeout answers its request from the share);
 * a probe (PING, bounded by the same timeout) runs every `probeIntervalMs` and whenever ioredis
 * reconnects, and the first answer switches back to `shared`. While in `fallback` no request
 * touches Redis, so a stalled Redis costs one timeout, not one per request. A consume that timed
 * out may still be applied by Redis later: it errs towards counting, never towards a hang.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../log/logger.js';

/**
 * KEYS: one per bucket. ARGV[1]: `1` consume, `0` peek. ARGV[2]: now in ms, or empty to use Redis
 * `TIME` (production: one clock for every replica). ARGV[3..]: capacity and interval (ms) of each
 * bucket. Returns `{allowed, then per bucket: allowed, remaining, retry-after µs, reset µs}`
 * (integers, because Redis truncates Lua numbers). Every bucket is checked before any is written.
 * Keys expire when their bucket is full again (PX = TAT - now), which is when they mean nothing.
 * The slack is 1 µs: Redis TIME has microseconds, and epoch milliseconds keep ~0.25 µs of precision.
 */
export const GCRA_LUA = `
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
else
  now = tonumber(ARGV[2])
end
local consume = ARGV[1] == '1'
local slack = 0.001
local result = {1}
local nexts = {}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[1 + 2 * i])
  local interval = tonumber(ARGV[2 + 2 * i])
  local tolerance = (capacity - 1) * interval
  local stored = tonumber(redis.call('GET', KEYS[i]) or '')
  local ahead = 0
  if stored and stored > now then ahead = stored - now end
  local allowed, remaining, retry, reset
  if consume then
    if ahead > tolerance + slack then
      allowed, remaining, retry, reset = 0, 0, ahead - tolerance, ahead
    else
      allowed, retry, reset = 1, 0, ahead + interval
      remaining = math.max(0, math.floor((tolerance - ahead + slack) / interval))
      nexts[i] = now + ahead + interval
    end
  else
    retry, reset = 0, ahead
    if ahead > tolerance + slack then
      allowed, remaining, retry = 0, 0, ahead - tolerance
    else
      allowed = 1
      remaining = math.min(math.floor(capacity), math.floor((tolerance + interval - ahead + slack) / interval))
    end
  end
  if allowed == 0 then result[1] = 0 end
  local base = 4 * i - 2
  result[base] = allowed
  result[base + 1] = remaining
  result[base + 2] = math.floor(retry * 1000 + 0.5)
  result[base + 3] = math.floor(reset * 1000 + 0.5)
end
if consume and result[1] == 1 then
  -- An injected clock (tests) does not move with Redis's expiry clock: keep such keys a minute more.
  local extra = 0
  if ARGV[2] ~= '' then extra = 60000 end
  for i = 1, #KEYS do
    local ttl = math.max(1, math.ceil(nexts[i] - now)) + extra
    redis.call('SET', KEYS[i], string.format('%.3f', nexts[i]), 'PX', ttl)
  end
end
return result
`;

interface GcraCommand {
  porticoGcra(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
}

export type SharedState = 'shared' | 'fallback';

/**
 * Timeouts in a row before the store leaves Redis. One timeout alone answers its request from the
 * memory share but keeps the store shared: a process descheduled for longer than the timeout (a
 * pod at its CPU limit) runs the expired timer before it reads the answer already waiting, and
 * bench/policies.ts measured 17 such false fall-backs in 33 s at the 50 ms default on a loaded
 * machine, with Redis answering in ~10 µs. A dead or stalled Redis still costs at most this many
 * timeouts; errors (refused, closed) switch at once.
 */
export const TIMEOUTS_BEFORE_FALLBACK = 3;

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

export interface RedisConnectionOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly probeIntervalMs: number;
  readonly logger: Logger;
  readonly onState: (state: SharedState) => void;
}

/**
 * `RedisConnection` is the engine's one Redis client and its state. It starts in `fallback` (no
 * answer from Redis yet) and turns `shared` at the first PONG.
 */
export class RedisConnection {
  private current: SharedState = 'fallback';
  private readonly client: Redis & GcraCommand;
  private readonly probeTimer: NodeJS.Timeout;
  private probing = false;
  private warned = false;
  private closing = false;
  private timeoutsInARow = 0;

  constructor(private readonly options: RedisConnectionOptions) {
    const client = new Redis(options.url, {
      enableOfflineQueue: false,
      commandTimeout: options.timeoutMs,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.max(1_000, options.timeoutMs),
      // Reconnect quickly, then every second: recovery is noticed within a second or so.
      retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    });
    client.defineCommand('porticoGcra', { lua: GCRA_LUA });
    this.client = client as Redis & GcraCommand;
    client.on('ready', () => this.probe());
    client.on('error', (err: Error) => this.failed(err));
    client.on('close', () => {
      if (!this.closing) this.failed(new Error('connection to Redis closed'));
    });
    this.probeTimer = setInterval(() => this.probe(), options.probeIntervalMs);
    this.probeTimer.unref();
  }

  get state(): SharedState {
    return this.current;
  }

  /** True when a request should ask Redis (shared, and the socket is up). */
  get usable(): boolean {
    return this.current === 'shared' && this.client.status === 'ready';
  }

  /** Runs the GCRA script; rejects within the timeout on any trouble. */
  gcra(keys: readonly string[], args: readonly string[]): Promise<number[]> {
    return this.client.porticoGcra(keys.length, ...keys, ...args);
  }

  /** Records an answered call: timeouts in a row start again from zero. */
  answered(): void {
    this.timeoutsInARow = 0;
  }

  /**
   * Records a failed or timed-out call: switches to `fallback` (logged once per outage) on an
   * error, or on the `TIMEOUTS_BEFORE_FALLBACK`th timeout in a row.
   */
  failed(err: unknown): void {
    if (this.closing) return;
    if (isTimeout(err) && ++this.timeoutsInARow < TIMEOUTS_BEFORE_FALLBACK) return;
    this.timeoutsInARow = 0;
    if (this.current === 'shared') {
      this.current = 'fallback';
      this.options.onState('fallback');
    }
    if (!this.warned) {
      this.warned = true;
      this.options.logger.warn(
        { err, redis: redactedUrl(this.options.url) },
        'Redis unreachable: rate limits answer from a per-replica share in memory until it is back',
      );
    }
  }

  /** Resolves true once Redis has answered (state `shared`), false after `timeoutMs`. */
  async whenShared(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.current !== 'shared' && Date.now() < deadline && !this.closing) {
      this.probe();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.current === 'shared';
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.probeTimer);
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private probe(): void {
    if (this.current === 'shared' || this.probing || this.closing || this.client.status !== 'ready') return;
    this.probing = true;
    this.client.ping().then(
      () => {
        this.probing = false;
        if (this.closing || this.current === 'shared') return;
        this.current = 'shared';
        this.warned = false;
        this.options.logger.info(
          { redis: redactedUrl(this.options.url) },
          'Redis answers: rate limits are shared',
        );
        this.options.onState('shared');
      },
      () => {
        this.probing = false;
      },
    );
  }
}

/** `redactedUrl` drops the password from a Redis URL for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}
