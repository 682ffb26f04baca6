/**
 * `redis-stats` reads Redis `INFO commandstats`, so a bench can show how many commands a proxied
 * request cost. Commands a Lua script runs (GET, SET, TIME inside EVALSHA) are counted by Redis
 * under their own names as well.
 */

/** `CommandStats` maps a command name (lowercase, e.g. `evalsha`) to its calls and total µs. */
export type CommandStats = ReadonlyMap<string, { readonly calls: number; readonly usec: number }>;

/** `parseCommandStats` reads the text of `INFO commandstats` (`cmdstat_get:calls=1,usec=2,…` lines). */
export function parseCommandStats(text: string): CommandStats {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of text.matchAll(/^cmdstat_([^:\s]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(m[1]!.toLowerCase(), { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

/**
 * `commandStatsDelta` is what ran between two snapshots: commands with at least one call, without
 * the `ignored` ones (the bench's own INFO calls).
 */
export function commandStatsDelta(
  before: CommandStats,
  after: CommandStats,
  ignored: readonly string[] = ['info'],
): Record<string, { calls: number; usec: number }> {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [cmd, now] of after) {
    if (ignored.includes(cmd)) continue;
    const then = before.get(cmd) ?? { calls: 0, usec: 0 };
    const calls = now.calls - then.calls;
    if (calls > 0) out[cmd] = { calls, usec: now.usec - then.usec };
  }
  return out;
}
