/**
 * `header-pattern` compiles the regular expressions annotations match request values with
 * (`canary-by-header-pattern`). It is the one seam between Portico and its regex engine: the
 * translation checks a pattern through `compileHeaderPattern` (so a bad one names the construct)
 * and the data plane compiles it once per snapshot through the same call, never per request.
 *
 * The engine is JavaScript's RegExp for now; issue 8's RE2 wrapper (`re2`, linear time, no
 * lookaround or backreferences) replaces `jsEngine` below at merge, which changes no caller.
 */

/** `HeaderMatcher` tests one request value; it never throws. */
export interface HeaderMatcher {
  test(value: string): boolean;
}

/** `PatternEngine` compiles a pattern source, or says why it cannot. */
export interface PatternEngine {
  readonly name: string;
  compile(
    source: string,
  ): { readonly ok: true; readonly matcher: HeaderMatcher } | { readonly ok: false; readonly reason: string };
}

// Constructs RE2 refuses: refused here too, so the set of accepted patterns does not widen now and
// narrow at merge (an Ingress accepted today must still be accepted with RE2).
const NOT_RE2: readonly (readonly [RegExp, string])[] = [
  [/\(\?<?[=!]/, 'lookaround ((?=, (?!, (?<=, (?<!) is not supported by RE2'],
  [/\\[1-9]/, 'backreferences (\\1…\\9) are not supported by RE2'],
  [/\\k</, 'named backreferences (\\k<name>) are not supported by RE2'],
];

/** `jsEngine` is RegExp with RE2's refusals applied; unanchored, as nginx's `ngx.re.match`. */
export const jsEngine: PatternEngine = {
  name: 'RegExp',
  compile(source) {
    for (const [construct, reason] of NOT_RE2) {
      if (construct.test(source)) return { ok: false, reason };
    }
    try {
      const re = new RegExp(source);
      return { ok: true, matcher: { test: (value) => re.test(value) } };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  },
};

/** `headerPatternEngine` is the engine in force (see the module comment). */
export const headerPatternEngine: PatternEngine = jsEngine;

/** `compileHeaderPattern` compiles with the engine in force. */
export function compileHeaderPattern(source: string): ReturnType<PatternEngine['compile']> {
  return headerPatternEngine.compile(source);
}
