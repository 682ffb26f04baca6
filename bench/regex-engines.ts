/**
 * `regex-engines` measures one regex path match per engine: RE2 through the `re2` addon (on a
 * fresh string, and on UTF-8 bytes converted once) against the V8 translation of
 * src/util/re2-fast-path.ts, for `test` (which route) and `exec` (capture groups for
 * `rewrite-target`). It is the figure behind the fast path; bench/ingress-nginx-features.ts shows
 * what it is worth per request.
 *
 *   npx tsx bench/regex-engines.ts [--no-results]
 *
 * Bounded: per pattern and operation, a warm-up and 5 rounds of 200,000 calls (every call gets a
 * fresh string, as a request does); then 5,000 generated patterns, each accepted one run on 4
 * adversarial 16 KiB paths, for the worst case the linear-time rule allows.
 * Writes "## Regex engines (issue 8)" of bench/RESULTS.md.
 */
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import RE2 from 're2';
import { fastPathRegex } from '../src/util/re2-fast-path.js';
import { writeSection } from './lib/results.js';

const { values } = parseArgs({ options: { 'no-results': { type: 'boolean', default: false } } });

const CALLS = 200_000;
const ROUNDS = 5;
const HEADING = '## Regex engines (issue 8)';

/** The bench Ingress's patterns and a path each matches (ingress-nginx docs examples). */
const CASES = [
  { pattern: '/something(/|$)(.*)', path: '/something/index.html' },
  { pattern: '/static/(.*)\\.(css|js)', path: '/static/app/main.js' },
  { pattern: '/api/v[0-9]+/users/([0-9]+)', path: '/api/v2/users/42' },
] as const;

/** `fresh` gives a new string per call with the same content, as each request brings its own. */
function freshPaths(path: string): string[] {
  return Array.from({ length: 1024 }, (_, i) => `${path}?${i}`.slice(0, path.length));
}

/** `nsPerCall` is the median over the rounds of the mean cost of one call of `op`. */
function nsPerCall(paths: readonly string[], op: (path: string) => unknown): number {
  let sink = 0;
  const run = (): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) if (op(paths[i & 1023] as string)) sink++;
    return Number(process.hrtime.bigint() - start) / CALLS;
  };
  run();
  const samples = Array.from({ length: ROUNDS }, run).sort((a, b) => a - b);
  if (sink < 0) console.log(sink);
  return samples[Math.floor(ROUNDS / 2)] as number;
}

const rows: string[] = [];
for (const c of CASES) {
  const source = `^(?:${c.pattern})`;
  const re2 = new RE2(source, 'i');
  const fast = fastPathRegex(source, true);
  if (!fast.ok) throw new Error(`${c.pattern} is not on the fast path: ${fast.reason}`);
  const v8 = fast.regex;
  const paths = freshPaths(c.path);
  // Same answers first: a fast wrong number is worth nothing.
  for (const p of paths.slice(0, 4)) {
    const a = re2.exec(p);
    const b = v8.exec(p);
    if (JSON.stringify(a === null ? null : [...a]) !== JSON.stringify(b === null ? null : [...b]))
      throw new Error(`${c.pattern} on ${p}: RE2 and V8 disagree`);
  }
  const re2Test = nsPerCall(paths, (p) => re2.test(p));
  const re2TestBytes = nsPerCall(paths, (p) => re2.test(Buffer.from(p)));
  const v8Test = nsPerCall(paths, (p) => v8.test(p));
  const re2Exec = nsPerCall(paths, (p) => re2.exec(p));
  const v8Exec = nsPerCall(paths, (p) => v8.exec(p));
  const fmt = (n: number): string => n.toFixed(0);
  rows.push(
    `| \`${c.pattern.replaceAll('|', '\\|')}\` | ${fmt(re2Test)} | ${fmt(re2TestBytes)} | ${fmt(v8Test)} | ${fmt(re2Exec)} | ${fmt(v8Exec)} | ${(re2Exec / v8Exec).toFixed(1)}× |`,
  );
}

// Worst case: generated patterns the fast path accepts, on adversarial 16 KiB paths (the request
// line limit), against a pattern it refuses for being quadratic on V8, run on V8 anyway.
const ADVERSARIAL = [
  '/'.repeat(16_384),
  'a/'.repeat(8_192),
  `${'/a'.repeat(8_191)}x`,
  `${'a'.repeat(16_383)}/`,
];
const ATOMS = ['a', '/', '.', '[^/]', '[a-k]', '\\d', 'x', '[^x]'];
const QUANTIFIERS = ['', '*', '+', '?', '*?', '+?'];
let seed = 7;
const random = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
let eligible = 0;
let worstMs = 0;
let worstPattern = '';
for (let i = 0; i < 5_000; i++) {
  let pattern = '';
  const items = 1 + Math.floor(random() * 6);
  for (let j = 0; j < items; j++) {
    const atom = pick(ATOMS) + pick(QUANTIFIERS);
    pattern += random() < 0.3 ? `(${atom})` : atom;
  }
  const verdict = fastPathRegex(`^(?:${pattern})`, true);
  if (!verdict.ok) continue;
  eligible++;
  // Compiled (and tiered up) first: the figure is the match, not V8's one-off regex compilation.
  for (let k = 0; k < 3; k++) verdict.regex.exec(`/a/${k}`);
  for (const text of ADVERSARIAL) {
    const start = performance.now();
    verdict.regex.exec(text);
    const ms = performance.now() - start;
    if (ms > worstMs) {
      worstMs = ms;
      worstPattern = pattern;
    }
  }
}
const quadratic = /^(?:\/([^\n]*)\/([^\n]*)x)/u;
quadratic.exec('/a/b');
const quadraticStart = performance.now();
quadratic.exec(ADVERSARIAL[0] as string);
const quadraticMs = performance.now() - quadraticStart;

const section = `${HEADING}

Run ${new Date().toISOString()}: \`npx tsx bench/regex-engines.ts\` — ${ROUNDS} rounds × ${CALLS.toLocaleString('en')} calls per cell, median ns per call; a fresh string per call, case-insensitive, anchored as a regex path is (\`^(?:…)\`). ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, re2 ${(await import('re2/package.json', { with: { type: 'json' } })).default.version}.

| pattern | RE2 test (string) | RE2 test (Buffer.from + bytes) | V8 test | RE2 exec | V8 exec | exec RE2 ÷ V8 |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Worst case: ${eligible.toLocaleString('en')} generated patterns the fast path accepts (of 5,000), each on ${ADVERSARIAL.length} adversarial 16 KiB paths: slowest \`exec\` ${worstMs.toFixed(2)} ms (\`${worstPattern.replaceAll('|', '\\|')}\`). For scale, \`/(.*)/(.*)x\` — refused for being quadratic on V8 — takes ${quadraticMs.toFixed(0)} ms on the first of those paths when run on V8 anyway.

The V8 column is the translation src/util/re2-fast-path.ts makes when it can prove the same answers and linear time (checked against RE2 above and in test/unit/util/re2-fast-path.test.ts); other patterns stay on RE2, where a route lookup converts the path to UTF-8 once for all patterns and \`rewrite-target\` pays one RE2 \`exec\`.
`;

console.log(section);
if (!values['no-results']) {
  writeSection(join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md'), HEADING, section);
}
