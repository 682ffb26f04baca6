/**
 * `host-names` measures what `server-alias` and `from-to-www-redirect` cost a lookup: the same
 * 1,000-Ingress table as `routing-table`, where every host also has an alias and a www redirect
 * name, looked up by host, by alias and by www name. An alias shares its host's path table, so its
 * lookup should cost what a host lookup costs; a www name answers from an empty path table.
 *
 * Run: `npx tsx bench/host-names.ts`. Bounded: a warm-up and 5 rounds of 1,000,000 lookups per kind each. Prints a
 * Markdown section for bench/RESULTS.md.
 */
import os from 'node:os';
import { compileSnapshot } from '../src/compile/snapshot.js';
import type { RouteSnapshot } from '../src/compile/types.js';
import type { Ingress } from '../src/model/objects.js';
import { translate } from '../src/model/translate/translate.js';
import { ingressTable, TABLE_OPTIONS, tableHost } from './lib/ingress-table.js';

const INGRESSES = 1_000;
const LOOKUPS = 1_000_000;
const ROUNDS = 5;
const PATHS = ['/', '/api/v1/users/42', '/healthz', '/static/app.js'] as const;

const aliasOf = (i: number): string => `alias-${String(i).padStart(5, '0')}.bench.portico.test`;

function snapshotWithNames(): RouteSnapshot {
  const table = ingressTable(INGRESSES);
  const ingresses = table.input.ingresses.map((s, i) => {
    const ing = s.object as Ingress;
    const annotations = {
      ...ing.metadata.annotations,
      'nginx.ingress.kubernetes.io/server-alias': aliasOf(i),
      'nginx.ingress.kubernetes.io/from-to-www-redirect': 'true',
    };
    return { ...s, object: { ...ing, metadata: { ...ing.metadata, annotations } } };
  });
  return compileSnapshot(translate({ ...table.input, ingresses }, TABLE_OPTIONS), 1);
}

/** `nsPerLookup` is the median over the rounds of the mean cost of one `match`. */
function nsPerLookup(snapshot: RouteSnapshot, hosts: readonly string[]): number {
  const samples: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) {
      const m = snapshot.match(hosts[i & 1023]!, PATHS[i & 3]!);
      if (m.kind === 'path') sink++;
    }
    samples.push(Number(process.hrtime.bigint() - start) / LOOKUPS);
  }
  if (sink < 0) console.log(sink);
  return samples.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const snapshot = snapshotWithNames();
const pick = (name: (i: number) => string): string[] =>
  Array.from({ length: 1024 }, (_, k) => name((k * 7919) % INGRESSES));
const kinds = [pick(tableHost), pick(aliasOf), pick((i) => `www.${tableHost(i)}`)] as const;
// One unmeasured pass over every kind first, so the JIT has seen all three before any is timed.
for (const hosts of kinds) nsPerLookup(snapshot, hosts);
const host = nsPerLookup(snapshot, kinds[0]);
const alias = nsPerLookup(snapshot, pick(aliasOf));
const www = nsPerLookup(
  snapshot,
  pick((i) => `www.${tableHost(i)}`),
);

console.log(`## Host names: server-alias and from-to-www-redirect lookups

${INGRESSES} Ingresses, each host with one alias and one www redirect name; ${ROUNDS} rounds of ${LOOKUPS.toLocaleString('en')} lookups, median. ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}.

| Lookup by | ns / lookup | vs host |
|:----------|------------:|--------:|
| rule host | ${host.toFixed(1)} | 1.00 |
| server-alias | ${alias.toFixed(1)} | ${(alias / host).toFixed(2)} |
| www redirect name | ${www.toFixed(1)} | ${(www / host).toFixed(2)} |
`);
