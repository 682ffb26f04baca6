/**
 * `header-pattern` compiles the regular expressions annotations match request values with
 * (`canary-by-header-pattern`). It is the one seam between Portico and its regex engine: the
 * translation checks a pattern through `compileHeaderPattern` (so a bad one names the construct)
 * and the data plane compiles it once per snapshot through the same call, never per request.
 *
 * The engine is RE2 (src/util/re2.ts): linear time, so a header value cannot stall the event
 * loop whatever the pattern; no lookaround or backreferences.
 */
import { compileRegex } from './re2.js';

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

/** `re2Engine` matches with RE2 (linear time), unanchored and case-sensitive, as nginx's `ngx.re.match`. */
export const re2Engine: PatternEngine = {
  name: 'RE2',
  compile(source) {
    const compiled = compileRegex(source, source, { caseInsensitive: false });
    if (!compiled.ok) return { ok: false, reason: compiled.reason };
    const regex = compiled.regex;
    return { ok: true, matcher: { test: (value) => regex.test(value) } };
  },
};

/** `headerPatternEngine` is the engine in force (see the module comment). */
export const headerPatternEngine: PatternEngine = re2Engine;

/** `compileHeaderPattern` compiles with the engine in force. */
export function compileHeaderPattern(source: string): ReturnType<PatternEngine['compile']> {
  return headerPatternEngine.compile(source);
}
