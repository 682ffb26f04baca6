/**
 * `re2` is Portico's one door to regular expressions written by Ingress authors. They run on RE2
 * (linear time, no catastrophic backtracking), never on V8's backtracking engine, so a hostile or
 * careless pattern cannot stall the event loop. Patterns are compiled when a snapshot is built and
 * checked at translation; nothing here compiles per request.
 *
 * RE2 refuses what it cannot match in linear time (lookaround, backreferences, possessive
 * quantifiers, atomic groups). Its messages name the operator (`invalid perl operator: (?=`);
 * `compileRegex` turns them into plain words an Ingress author can act on.
 */
import RE2 from 're2';
import { fastPathRegex } from './re2-fast-path.js';

/** `CompiledRegex` is a compiled RE2 pattern (case-insensitive unless asked otherwise). */
export interface CompiledRegex {
  /** The source as given (before any anchoring the caller added). */
  readonly source: string;
  test(text: string): boolean;
  /**
   * `testBytes` is `test` on the UTF-8 bytes of a text. RE2 reads UTF-8, so a string argument is
   * converted on every call; a caller trying several patterns on one text converts it once.
   */
  testBytes(utf8: Buffer): boolean;
  /** Capture groups of the first match (`[0]` is the whole match), or null. */
  exec(text: string): RegExpExecArray | null;
  /**
   * True when the pattern runs on V8 (src/util/re2-fast-path.ts): `test` on the string is then
   * cheaper than converting it for `testBytes`.
   */
  readonly fast: boolean;
}

export type RegexResult =
  | { readonly ok: true; readonly regex: CompiledRegex }
  | { readonly ok: false; readonly reason: string };

/** RE2 messages (`<what>: <operator>`) and the construct they mean, in plain words. */
const CONSTRUCTS: readonly { readonly test: RegExp; readonly words: (op: string) => string }[] = [
  { test: /^invalid perl operator: \(\?=/, words: () => 'lookahead `(?=…)`' },
  { test: /^invalid perl operator: \(\?!/, words: () => 'negative lookahead `(?!…)`' },
  { test: /^invalid perl operator: \(\?<=/, words: () => 'lookbehind `(?<=…)`' },
  { test: /^invalid perl operator: \(\?<!/, words: () => 'negative lookbehind `(?<!…)`' },
  { test: /^invalid perl operator: \(\?>/, words: () => 'atomic group `(?>…)`' },
  { test: /^invalid perl operator: \(\?#/, words: () => 'inline comment `(?#…)`' },
  { test: /^invalid escape sequence: \\[1-9]/, words: (op) => `backreference \`${op}\`` },
  { test: /^invalid escape sequence: \\k/, words: () => 'named backreference `\\k<…>`' },
  { test: /^bad repetition operator: [*+?}]\+/, words: (op) => `possessive quantifier \`${op}\`` },
  {
    test: /^bad repetition operator/,
    words: (op) => `repetition \`${op}\``,
  },
];

/** `describeRe2Error` turns an RE2 compile message into a sentence naming the construct. */
export function describeRe2Error(message: string): string {
  const colon = message.indexOf(': ');
  const op = colon === -1 ? '' : message.slice(colon + 2);
  if (message.startsWith('invalid repetition size')) {
    return `repetition count \`${op}\` is not supported: RE2 allows at most 1000, minimum first`;
  }
  for (const c of CONSTRUCTS) {
    if (c.test.test(message))
      return `${c.words(op)} is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers)`;
  }
  if (message.startsWith('missing ]')) return 'unbalanced `[`: a character class is not closed';
  if (message.startsWith('missing )') || message.startsWith('unexpected )')) return 'unbalanced parentheses';
  if (message.startsWith('trailing \\')) return 'the pattern ends with a lone `\\`';
  if (message.startsWith('invalid escape sequence')) return `${message} (RE2 syntax)`;
  return `not a valid RE2 pattern: ${message}`;
}

/** `String.prototype.isWellFormed` (Node 20; not yet in the ES2023 lib typings). */
const isWellFormed = (t: string): boolean => (t as string & { isWellFormed(): boolean }).isWellFormed();

function compileOnce(source: string, caseInsensitive: boolean): RE2 {
  // `u` is added by the package.
  return new RE2(source, caseInsensitive ? 'i' : '');
}

export interface RegexOptions {
  /**
   * Default true: ingress-nginx's regex locations are `~*` (case-insensitive). Header patterns
   * (`canary-by-header-pattern`) are matched as written, as its `ngx.re.match` does.
   */
  readonly caseInsensitive?: boolean;
}

/**
 * `compileRegex` compiles the user's pattern alone (so messages are about what they wrote), then the
 * full `source` the caller will match with. Never throws.
 */
export function compileRegex(
  userPattern: string,
  source: string = userPattern,
  options: RegexOptions = {},
): RegexResult {
  const caseInsensitive = options.caseInsensitive ?? true;
  try {
    compileOnce(userPattern, caseInsensitive);
    const regex = compileOnce(source, caseInsensitive);
    const fast = fastPathRegex(source, caseInsensitive);
    const v8 = fast.ok ? fast.regex : undefined;
    return {
      ok: true,
      regex: Object.freeze({
        source,
        fast: v8 !== undefined,
        test: v8 === undefined ? (t: string) => regex.test(t) : (t: string) => v8.test(t),
        testBytes: (b: Buffer) => regex.test(b),
        // RE2 sees a lone surrogate as U+FFFD (the UTF-8 conversion replaces it) and returns it so
        // in a capture; such a text stays on RE2 to get RE2's captures.
        exec:
          v8 === undefined
            ? (t: string) => regex.exec(t)
            : (t: string) => (isWellFormed(t) ? v8.exec(t) : regex.exec(t)),
      }),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: describeRe2Error(message) };
  }
}

/**
 * `RegexCache` compiles each source once across snapshot builds: `get` returns the compiled
 * pattern (reusing the previous build's) and `end` closes a build, dropping what it did not use.
 * Bounded by the patterns in force, however often snapshots are rebuilt. Single-threaded use only
 * (a build runs synchronously from its first `get` to `end`).
 */
export class RegexCache {
  #previous = new Map<string, RegexResult>();
  #current: Map<string, RegexResult> | undefined;

  get(source: string, userPattern: string): RegexResult {
    const current = this.#current ?? new Map<string, RegexResult>();
    this.#current = current;
    let hit = current.get(source) ?? this.#previous.get(source);
    if (hit === undefined) hit = compileRegex(userPattern, source);
    current.set(source, hit);
    return hit;
  }

  /** `end` finishes a build: only the patterns it used are kept for the next one. */
  end(): void {
    this.#previous = this.#current ?? new Map();
    this.#current = undefined;
  }
}
