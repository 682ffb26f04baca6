/**
 * The RE2 wrapper: patterns compile case-insensitively, and what RE2 refuses is named in plain
 * words (the construct, not RE2's internal message).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileRegex, RegexCache } from '../../../src/util/re2.js';

const HINT = ' is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers)';

const refused: readonly { pattern: string; reason: string }[] = [
  { pattern: '/foo(?=bar)', reason: `lookahead \`(?=…)\`${HINT}` },
  { pattern: '/foo(?!bar)', reason: `negative lookahead \`(?!…)\`${HINT}` },
  { pattern: '/(?<=a)b', reason: `lookbehind \`(?<=…)\`${HINT}` },
  { pattern: '/(?<!a)b', reason: `negative lookbehind \`(?<!…)\`${HINT}` },
  { pattern: '/(a)\\1', reason: `backreference \`\\1\`${HINT}` },
  { pattern: '/(?<n>a)\\k<n>', reason: `named backreference \`\\k<…>\`${HINT}` },
  { pattern: '/a++', reason: `possessive quantifier \`++\`${HINT}` },
  { pattern: '/a*+', reason: `possessive quantifier \`*+\`${HINT}` },
  { pattern: '/(?>a)', reason: `atomic group \`(?>…)\`${HINT}` },
  {
    pattern: '/a{1001}',
    reason: 'repetition count `{1001}` is not supported: RE2 allows at most 1000, minimum first',
  },
  { pattern: '/[a-', reason: 'unbalanced `[`: a character class is not closed' },
  { pattern: '/(a', reason: 'unbalanced parentheses' },
  { pattern: '/a)', reason: 'unbalanced parentheses' },
];

const accepted: readonly { pattern: string; input: string; groups: readonly string[] | null }[] = [
  { pattern: '^(?:/something(/|$)(.*))', input: '/something/new', groups: ['/something/new', '/', 'new'] },
  { pattern: '^(?:/something(/|$)(.*))', input: '/SOMETHING', groups: ['/SOMETHING', '', ''] },
  { pattern: '^(?:/foo/bar/[a-z]{3})', input: '/foo/bar/BAZ/x', groups: ['/foo/bar/BAZ'] },
  { pattern: '^(?:/a|/b)', input: '/x/b', groups: null },
];

describe('RE2 wrapper', () => {
  for (const c of refused) {
    test(`${c.pattern} is refused naming the construct`, () => {
      const r = compileRegex(c.pattern, `^(?:${c.pattern})`);
      assert.equal(r.ok, false);
      assert.equal(r.ok ? '' : r.reason, c.reason);
    });
  }
  for (const c of accepted) {
    test(`${c.pattern} matches ${c.input} case-insensitively from the start, with its groups`, () => {
      const r = compileRegex(c.pattern);
      assert.ok(r.ok);
      const m = r.regex.exec(c.input);
      assert.deepEqual(m === null ? null : [...m], c.groups);
      assert.equal(r.regex.test(c.input), c.groups !== null);
    });
  }

  const texts = ['/something/new', '/SOMETHING', '/other', '/something/café', ''];
  for (const text of texts) {
    test(`testBytes on the UTF-8 bytes agrees with test on ${JSON.stringify(text)}`, () => {
      const r = compileRegex('/something(/|$)(.)', '^(?:/something(/|$)(.))');
      assert.ok(r.ok);
      assert.equal(r.regex.testBytes(Buffer.from(text)), r.regex.test(text));
    });
  }

  test('the cache compiles a pattern once across builds and forgets patterns a build did not use', () => {
    const cache = new RegexCache();
    const first = cache.get('^(?:/a)', '/a');
    cache.end();
    const again = cache.get('^(?:/a)', '/a');
    assert.equal(again, first, 'reused from the previous build');
    cache.get('^(?:/b)', '/b');
    cache.end();
    cache.end(); // a build that used nothing
    assert.notEqual(cache.get('^(?:/a)', '/a'), first, 'dropped once a build went without it');
  });
});
