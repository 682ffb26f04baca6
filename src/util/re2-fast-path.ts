/**
 * `re2-fast-path` runs the simple regex paths that real Ingresses use (`/api(/|$)(.*)`,
 * `/static/(.*)\.(css|js)`, `/v[0-9]+/users/([0-9]+)`) on V8's engine instead of calling into RE2.
 *
 * Why: a call into the `re2` addon costs far more than the match. `npx tsx bench/regex-engines.ts`
 * (node-re2 1.24, a fresh 21-character path per call): RE2 `exec` ≈ 1.9 µs and `test` ≈ 0.9 µs
 * (the UTF-8 conversion and the handles around it), against ≈ 45 ns and ≈ 22 ns on V8. In the issue 8
 * bench the RE2 calls were 3.2 µs of the 5 µs a regex route with a rewrite added per request, and
 * kept the route from its < 10 % target; with this path it costs 1.5 % (bench/RESULTS.md).
 *
 * Why it is safe: the pattern is still RE2's (RE2 parsed and accepted it at translation), and a
 * pattern runs here only when this module can prove two things at compile time; every other pattern
 * keeps running on RE2.
 * - **The same answer.** Only a small subset of RE2's syntax is translated, each construct to its
 *   exact meaning rather than JavaScript's: `.` is "anything but `\n`", `\s` is `[\t\n\f\r ]`,
 *   case-insensitivity is spelled out as explicit classes with RE2's folding (`k` also matches
 *   U+212A KELVIN SIGN, `s` also U+017F LONG S), and the `u` flag makes classes match code points as
 *   RE2 does. Both engines pick the leftmost-first (Perl) match, so captures agree.
 *   test/unit/util/re2-fast-path.test.ts checks this against RE2 on generated patterns and paths.
 * - **Linear time.** V8 backtracks, so a pattern is accepted only if backtracking cannot blow up:
 *   anchored with `^`; every choice (a quantifier's "one more?", an alternation) decided by the next
 *   character, except at most one; and when that one is an unbounded repeat, only fixed-width items
 *   after it, up to a tail that matches anywhere (`(.*)`, `(.+)`, `[^/]*`… at the end, which cannot
 *   fail once started, so runs once). A path of n characters then costs O(n × pattern size), the
 *   bound RE2 itself gives.
 */

/** Code points a case-insensitive RE2 pattern folds onto ASCII letters besides their other case. */
const KELVIN_SIGN = 0x212a;
const LONG_S = 0x17f;
const NEWLINE = 0x0a;

/** `CharSet` is the characters one position may match: `points`, or all but them when negated. */
interface CharSet {
  readonly negated: boolean;
  readonly points: ReadonlySet<number>;
}

type Element =
  /** One character from `set`, repeated min..max times (max Infinity: unbounded). */
  | {
      readonly kind: 'atom';
      readonly set: CharSet;
      readonly min: 0 | 1;
      readonly max: 1 | typeof Number.POSITIVE_INFINITY;
      readonly lazy: boolean;
    }
  /** A group of alternatives, each a fixed run of single characters, or `$` alone (`null`). */
  | {
      readonly kind: 'choice';
      readonly alternatives: readonly (readonly CharSet[] | null)[];
      readonly capture: boolean;
    }
  | { readonly kind: 'open' }
  | { readonly kind: 'close' }
  /** `$`: the end of the text. */
  | { readonly kind: 'end' };

/** Thrown (and caught in this module) when a pattern is outside the fast subset. */
class Ineligible extends Error {}

function ineligible(why: string): never {
  throw new Ineligible(why);
}

const isAsciiLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** `fold` adds RE2's case-folding orbit of every ASCII letter in `points`. */
function fold(points: Set<number>): Set<number> {
  const out = new Set(points);
  for (const c of points) {
    if (!isAsciiLetter(c)) continue;
    const lower = c | 0x20;
    out.add(lower);
    out.add(lower - 0x20);
    if (lower === 0x6b) out.add(KELVIN_SIGN);
    if (lower === 0x73) out.add(LONG_S);
  }
  return out;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let c = from; c <= to; c++) out.push(c);
  return out;
}

/** RE2's Perl classes (ASCII-only, as RE2 defines them). */
const PERL_CLASSES: Readonly<Record<string, readonly number[]>> = {
  d: range(0x30, 0x39),
  s: [0x09, 0x0a, 0x0c, 0x0d, 0x20],
  w: [...range(0x30, 0x39), ...range(0x41, 0x5a), ...range(0x61, 0x7a), 0x5f],
};

/** Punctuation RE2 accepts escaped as itself (`\.`, `\/`, `\-`…). */
const isAsciiPunctuation = (c: number): boolean =>
  (c >= 0x21 && c <= 0x2f) ||
  (c >= 0x3a && c <= 0x40) ||
  (c >= 0x5b && c <= 0x60) ||
  (c >= 0x7b && c <= 0x7e);

/** Printable ASCII: literal characters of the subset (anything else is left to RE2). */
const isPrintableAscii = (c: number): boolean => c >= 0x20 && c <= 0x7e;

class Parser {
  #at = 0;
  #captures = 0;

  constructor(
    private readonly source: string,
    private readonly caseInsensitive: boolean,
  ) {}

  get captures(): number {
    return this.#captures;
  }

  parse(): Element[] {
    if (this.source.charCodeAt(0) !== 0x5e /* ^ */) ineligible('not anchored with ^');
    this.#at = 1;
    const alternatives = this.#alternatives();
    if (this.#at < this.source.length) ineligible('unbalanced )');
    if (alternatives.length !== 1) ineligible('top-level alternation');
    return alternatives[0] as Element[];
  }

  #peek(offset = 0): number {
    return this.source.charCodeAt(this.#at + offset);
  }

  #set(points: Iterable<number>, negated = false): CharSet {
    const base = new Set(points);
    return { negated, points: this.caseInsensitive ? fold(base) : base };
  }

  /** Alternatives up to the `)` (not consumed) or the end of the source. */
  #alternatives(): Element[][] {
    const out: Element[][] = [this.#sequence()];
    while (this.#peek() === 0x7c /* | */) {
      this.#at++;
      out.push(this.#sequence());
    }
    return out;
  }

  #sequence(): Element[] {
    const out: Element[] = [];
    for (;;) {
      const c = this.#peek();
      if (Number.isNaN(c) || c === 0x7c /* | */ || c === 0x29 /* ) */) return out;
      if (c === 0x28 /* ( */) {
        this.#group(out);
        continue;
      }
      if (c === 0x2a || c === 0x2b || c === 0x3f) {
        const last = out[out.length - 1];
        if (last?.kind !== 'atom' || last.min !== 1 || last.max !== 1) ineligible('repetition of a group');
        this.#at++;
        const lazy = this.#peek() === 0x3f;
        if (lazy) this.#at++;
        const min = c === 0x2b ? 1 : 0;
        const max = c === 0x3f ? 1 : Number.POSITIVE_INFINITY;
        out[out.length - 1] = { kind: 'atom', set: last.set, min, max, lazy };
        continue;
      }
      if (c === 0x24 /* $ */) {
        this.#at++;
        out.push({ kind: 'end' });
        continue;
      }
      out.push({ kind: 'atom', set: this.#single(), min: 1, max: 1, lazy: false });
    }
  }

  #group(out: Element[]): void {
    this.#at++;
    let capture = true;
    if (this.#peek() === 0x3f /* ? */) {
      if (this.#peek(1) !== 0x3a /* : */) ineligible('group flags or names');
      capture = false;
      this.#at += 2;
    }
    if (capture) this.#captures++;
    const alternatives = this.#alternatives();
    if (this.#peek() !== 0x29) ineligible('unbalanced (');
    this.#at++;
    const next = this.#peek();
    if (next === 0x2a || next === 0x2b || next === 0x3f || next === 0x7b) ineligible('repetition of a group');
    if (alternatives.length === 1) {
      if (capture) out.push({ kind: 'open' });
      out.push(...(alternatives[0] as Element[]));
      if (capture) out.push({ kind: 'close' });
      return;
    }
    const fixed = alternatives.map((alt): CharSet[] | null => {
      if (alt.length === 1 && alt[0]?.kind === 'end') return null;
      if (alt.length === 0) ineligible('empty alternative');
      return alt.map((e) => {
        if (e.kind !== 'atom' || e.min !== 1 || e.max !== 1) ineligible('alternative is not a fixed string');
        return e.set;
      });
    });
    out.push({ kind: 'choice', alternatives: fixed, capture });
  }

  /** One character position: a literal, `.`, an escape or a bracketed class. */
  #single(): CharSet {
    const c = this.#peek();
    this.#at++;
    if (c === 0x2e /* . */) return { negated: true, points: new Set([NEWLINE]) };
    if (c === 0x5b /* [ */) return this.#bracket();
    if (c === 0x5c /* \ */) {
      const e = this.#peek();
      this.#at++;
      const perl = PERL_CLASSES[String.fromCharCode(e | 0x20)];
      if (perl !== undefined && isAsciiLetter(e)) return this.#set(perl, e < 0x61);
      if (isAsciiPunctuation(e)) return this.#set([e]);
      return ineligible('escape outside the subset');
    }
    if (c === 0x7b || c === 0x7d || c === 0x5d || c === 0x5e) ineligible('{ } ] ^ outside the subset');
    if (!isPrintableAscii(c)) ineligible('non-ASCII or control literal');
    return this.#set([c]);
  }

  #bracket(): CharSet {
    let negated = false;
    if (this.#peek() === 0x5e /* ^ */) {
      negated = true;
      this.#at++;
    }
    if (this.#peek() === 0x5d /* ] */) ineligible('] first in a class');
    const points: number[] = [];
    let first = true;
    for (;;) {
      const c = this.#peek();
      if (Number.isNaN(c)) ineligible('unterminated class');
      if (c === 0x5d /* ] */) {
        this.#at++;
        break;
      }
      if (c === 0x5c /* \ */ && isAsciiLetter(this.#peek(1))) {
        const perl = PERL_CLASSES[String.fromCharCode(this.#peek(1))];
        if (perl === undefined) ineligible('escape outside the subset');
        points.push(...perl);
        this.#at += 2;
        first = false;
        continue;
      }
      const from = this.#classChar(first);
      first = false;
      if (this.#peek() === 0x2d /* - */ && this.#peek(1) !== 0x5d) {
        this.#at++;
        const to = this.#classChar(false);
        if (to < from) ineligible('reversed range');
        points.push(...range(from, to));
      } else points.push(from);
    }
    return this.#set(points, negated);
  }

  /** A literal character inside `[…]`. */
  #classChar(first: boolean): number {
    const c = this.#peek();
    this.#at++;
    if (c === 0x5c /* \ */) {
      const e = this.#peek();
      this.#at++;
      if (!isAsciiPunctuation(e)) ineligible('escape outside the subset');
      return e;
    }
    if (c === 0x5b /* [ */) ineligible('[ inside a class (POSIX classes)');
    if (c === 0x2d /* - */ && !first && this.#peek() !== 0x5d) ineligible('- inside a class');
    if (!isPrintableAscii(c)) ineligible('non-ASCII or control literal');
    return c;
  }
}

function intersects(a: CharSet, b: CharSet): boolean {
  if (a.negated && b.negated) return true;
  if (a.negated || b.negated) {
    const [neg, pos] = a.negated ? [a, b] : [b, a];
    for (const p of pos.points) if (!neg.points.has(p)) return true;
    return false;
  }
  for (const p of a.points) if (b.points.has(p)) return true;
  return false;
}

/** What the rest of a pattern can start with. */
interface Lookahead {
  /** Classes its first character may come from. */
  readonly sets: readonly CharSet[];
  /** It may match nothing but the end of the text (`$`). */
  readonly end: boolean;
  /** It may match the empty string anywhere, so the rest never fails. */
  readonly anywhere: boolean;
}

const NOTHING_LEFT: Lookahead = { sets: [], end: false, anywhere: true };

/** `checkLinear` throws `Ineligible` unless backtracking over `elements` is linear (module comment). */
function checkLinear(elements: readonly Element[]): void {
  const consuming = elements.filter((e) => e.kind !== 'open' && e.kind !== 'close');
  if (consuming.length > 64) ineligible('too long');
  const lastEnd = consuming.findIndex((e) => e.kind === 'end');
  if (lastEnd !== -1 && lastEnd !== consuming.length - 1) ineligible('$ before the end');
  let ambiguous = 0;
  let unboundedToTheRight = false;
  // Right to left: `after` is what may follow element i.
  let after: Lookahead = NOTHING_LEFT;
  for (let i = consuming.length - 1; i >= 0; i--) {
    const e = consuming[i] as Element;
    if (e.kind === 'end') {
      after = { sets: [], end: true, anywhere: false };
      continue;
    }
    if (e.kind === 'choice') {
      const starts: CharSet[] = [];
      let ends = 0;
      for (const alt of e.alternatives) {
        if (alt === null) ends++;
        else starts.push(alt[0] as CharSet);
      }
      const disjoint =
        ends <= 1 && starts.every((s, j) => starts.slice(j + 1).every((t) => !intersects(s, t)));
      if (!disjoint) ineligible('alternatives not told apart by their first character');
      after = { sets: starts, end: ends > 0, anywhere: false };
      continue;
    }
    if (e.kind !== 'atom') continue;
    if (e.min !== e.max) {
      const decided = after.anywhere || after.sets.every((s) => !intersects(s, e.set));
      if (!decided) {
        ambiguous++;
        // Each of its n tries re-runs what follows: that must be fixed-width for O(n) in all.
        if (e.max === Number.POSITIVE_INFINITY && unboundedToTheRight)
          ineligible('an unbounded repeat follows one not decided by the next character');
      }
    }
    // A repeat followed only by what matches anywhere cannot fail once it has its first character:
    // it is run once, whatever precedes it, so it does not multiply the cost of an earlier choice.
    if (e.max === Number.POSITIVE_INFINITY && !after.anywhere) unboundedToTheRight = true;
    after =
      e.min === 1
        ? { sets: [e.set], end: false, anywhere: false }
        : { sets: [e.set, ...after.sets], end: after.end, anywhere: after.anywhere };
  }
  if (ambiguous > 1) ineligible('more than one choice not decided by the next character');
}

function hex(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

function renderSet(set: CharSet): string {
  if (!set.negated && set.points.size === 1) return hex(set.points.values().next().value as number);
  const sorted = [...set.points].sort((a, b) => a - b);
  let body = '';
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    body += j > i ? `${hex(sorted[i] as number)}-${hex(sorted[j] as number)}` : hex(sorted[i] as number);
    i = j + 1;
  }
  return `[${set.negated ? '^' : ''}${body}]`;
}

function render(elements: readonly Element[]): string {
  let out = '^(?:';
  for (const e of elements) {
    switch (e.kind) {
      case 'open':
        out += '(';
        break;
      case 'close':
        out += ')';
        break;
      case 'end':
        out += '$';
        break;
      case 'choice': {
        const alts = e.alternatives.map((alt) => (alt === null ? '$' : alt.map(renderSet).join('')));
        out += `(${e.capture ? '' : '?:'}${alts.join('|')})`;
        break;
      }
      case 'atom': {
        const q = e.min === 1 && e.max === 1 ? '' : e.max === 1 ? '?' : e.min === 0 ? '*' : '+';
        out += renderSet(e.set) + q + (e.lazy ? '?' : '');
        break;
      }
    }
  }
  return `${out})`;
}

/** `FastPathVerdict` is the fast path for an RE2 source, or why it has none. */
export type FastPathVerdict =
  | { readonly ok: true; readonly regex: RegExp }
  | { readonly ok: false; readonly reason: string };

/**
 * `fastPathRegex` returns a V8 RegExp that answers exactly as RE2 does for `source` (flags: `i` when
 * `caseInsensitive`), or the reason the pattern stays on RE2. `source` must be one RE2 accepted.
 */
export function fastPathRegex(source: string, caseInsensitive: boolean): FastPathVerdict {
  try {
    const parser = new Parser(source, caseInsensitive);
    const elements = parser.parse();
    checkLinear(elements);
    return { ok: true, regex: new RegExp(render(elements), 'u') };
  } catch (err) {
    if (err instanceof Ineligible) return { ok: false, reason: err.message };
    return { ok: false, reason: `not translated: ${err instanceof Error ? err.message : String(err)}` };
  }
}
