/**
 * The RE2 fast path must answer exactly as RE2 does, and take only patterns whose backtracking is
 * linear. The first is checked differentially: generated patterns in and around the subset, each
 * run by RE2 and by its V8 translation on generated paths (case folding, newlines, astral and
 * non-ASCII characters included). The second by the table of patterns that must stay on RE2.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import RE2 from 're2';
import { compileRegex } from '../../../src/util/re2.js';
import { fastPathRegex } from '../../../src/util/re2-fast-path.js';

const source = (p: string): string => `^(?:${p})`;

/** `groupsOf` is an exec result as plain data: the groups and the index, or null. */
function groupsOf(m: RegExpExecArray | null): { groups: (string | undefined)[]; index: number } | null {
  return m === null ? null : { groups: [...m], index: m.index };
}

function re2Exec(re: RE2, text: string): RegExpExecArray | null {
  return re.exec(text) as RegExpExecArray | null;
}

describe('RE2 fast path: eligible patterns', () => {
  const eligible: readonly { pattern: string; inputs: readonly string[] }[] = [
    {
      pattern: '/something(/|$)(.*)',
      inputs: [
        '/something',
        '/something/',
        '/something/new',
        '/SOMETHING/x/y',
        '/somethingelse',
        '/so\u017Fmething',
      ],
    },
    {
      pattern: '/static/(.*)\\.(css|js)',
      inputs: ['/static/a.b.css', '/static/x.JS', '/static/x.png', '/static/.css'],
    },
    {
      pattern: '/api/v[0-9]+/users/([0-9]+)',
      inputs: ['/api/v2/users/42', '/api/v/users/1', '/API/V10/USERS/7x'],
    },
    { pattern: '/foo/?(.*)', inputs: ['/foo', '/foo/', '/foobar', '/foo//x'] },
    { pattern: '/v1/(.+)', inputs: ['/v1/', '/v1/a', '/v1/\n'] },
    { pattern: '/([^/]+)/(.*)', inputs: ['/a/b', '/a', '//b', '/\u{1F600}/x'] },
    { pattern: '/k8s', inputs: ['/K8S', '/\u212A8\u017F', '/k8'] },
    {
      pattern: '/[a-z]+\\.html$',
      inputs: ['/index.html', '/INDEX.HTML', '/index.html/', '/\u212Aelvin.html'],
    },
    { pattern: '/x(?:/|$)', inputs: ['/x', '/x/', '/xy'] },
    { pattern: '/files/(\\w+)\\.(\\d+)', inputs: ['/files/a_b.12', '/files/\u212A.1', '/files/a-b.1'] },
    { pattern: '/lazy/(.*?)(/|$)', inputs: ['/lazy/a/b', '/lazy/', '/lazy/abc'] },
    // The tail matches anywhere, so the first `(.*)` backtracks into it at most once.
    { pattern: '/(.*)/(.*)', inputs: ['/a/b/c', '/a', '//', '/x/\n/y'] },
    { pattern: '/api/(.*)/v1/(.+)', inputs: ['/api/t/v1/x', '/api/a/v1/b/v1/c', '/api/v1/', '/api/x/v1/'] },
    { pattern: '/(.*?)/([^/]*)', inputs: ['/a/b/c', '/a', '/a/'] },
  ];
  for (const c of eligible) {
    test(`${c.pattern} runs on V8 with RE2's answers`, () => {
      const verdict = fastPathRegex(source(c.pattern), true);
      assert.ok(verdict.ok, `expected eligible, got ${JSON.stringify(verdict)}`);
      const re2 = new RE2(source(c.pattern), 'i');
      for (const input of c.inputs) {
        assert.deepEqual(
          groupsOf(verdict.regex.exec(input)),
          groupsOf(re2Exec(re2, input)),
          `input ${JSON.stringify(input)}`,
        );
      }
    });
  }

  test('compileRegex uses it, and keeps RE2 captures for a text with a lone surrogate', () => {
    const compiled = compileRegex('/a/(.*)', source('/a/(.*)'));
    assert.ok(compiled.ok);
    assert.equal(compiled.regex.fast, true);
    assert.deepEqual(groupsOf(compiled.regex.exec('/a/x')), { groups: ['/a/x', 'x'], index: 0 });
    // RE2 reads UTF-8, where a lone surrogate becomes U+FFFD.
    assert.equal(compiled.regex.exec('/a/\uD800')?.[1], '\uFFFD');
    assert.equal(compiled.regex.test('/A/'), true);
    assert.equal(compiled.regex.testBytes(Buffer.from('/b/')), false);
  });
});

describe('RE2 fast path: patterns that stay on RE2', () => {
  const stay: readonly { pattern: string; reason: string; caseInsensitive?: boolean }[] = [
    { pattern: '(a+)+$', reason: 'repetition of a group' },
    { pattern: '(a|a)*b', reason: 'repetition of a group' },
    { pattern: '/(.*)/(.*)$', reason: 'an unbounded repeat follows one not decided by the next character' },
    { pattern: '/(.*)/(.*)x', reason: 'an unbounded repeat follows one not decided by the next character' },
    { pattern: '/(.*)(.*)x', reason: 'an unbounded repeat follows one not decided by the next character' },
    {
      pattern: '/(.*)/([^x]*)xy',
      reason: 'an unbounded repeat follows one not decided by the next character',
    },
    { pattern: '/a?(a?)a', reason: 'more than one choice not decided by the next character' },
    { pattern: '/(ab|ac)', reason: 'alternatives not told apart by their first character' },
    { pattern: '/(a|)', reason: 'empty alternative' },
    { pattern: '/(a|A)', reason: 'alternatives not told apart by their first character' },
    { pattern: '/x$/', reason: '$ before the end' },
    { pattern: '/a{2,}', reason: '{ } ] ^ outside the subset' },
    { pattern: '/[[:alpha:]]', reason: '[ inside a class (POSIX classes)' },
    { pattern: '/\\pL', reason: 'escape outside the subset' },
    { pattern: '/\\bword', reason: 'escape outside the subset' },
    { pattern: '/caf\u00e9', reason: 'non-ASCII or control literal' },
    { pattern: '/(?i)a', reason: 'group flags or names' },
    { pattern: '/(?P<id>[0-9]+)', reason: 'group flags or names' },
    { pattern: '/a|/b', reason: 'alternatives not told apart by their first character' },
  ];
  for (const c of stay) {
    test(`${c.pattern}: ${c.reason}`, () => {
      assert.deepEqual(fastPathRegex(source(c.pattern), c.caseInsensitive ?? true), {
        ok: false,
        reason: c.reason,
      });
    });
  }

  test('unanchored and top-level alternatives stay on RE2', () => {
    assert.deepEqual(fastPathRegex('abc', false), { ok: false, reason: 'not anchored with ^' });
    assert.deepEqual(fastPathRegex('^a|b', false), { ok: false, reason: 'top-level alternation' });
  });
});

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = [
  'a',
  'k',
  's',
  'x',
  '/',
  '\\.',
  '-',
  '.',
  '[a-k]',
  '[^/]',
  '[sx]',
  'i',
  '[h-j]',
  '[^a-z]',
  '\\d',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '[-a]',
  '[\\w.]',
];
const QUANTIFIERS = ['', '', '', '*', '+', '?', '*?', '+?', '??'];
const SUBJECT_CHARS = [
  'a',
  'k',
  'K',
  's',
  'S',
  '\u212A',
  '\u017F',
  'x',
  '/',
  '.',
  '-',
  '0',
  '7',
  '_',
  ' ',
  '\n',
  '\r',
  '\t',
  '\u00e9',
  '\u{1F600}',
  '$',
  '\v',
  '\f',
  '\u0130',
  '\u0131',
  'i',
  'I',
];

function generatePattern(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const atom = (): string => pick(ATOMS) + pick(QUANTIFIERS);
  const fixed = (): string => Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(ATOMS)).join('');
  let out = '';
  const items = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < items; i++) {
    const r = rand();
    if (r < 0.55) out += atom();
    else if (r < 0.7) out += `(${atom()}${rand() < 0.5 ? atom() : ''})`;
    else if (r < 0.85) {
      const alts = Array.from({ length: 2 + Math.floor(rand() * 2) }, () => (rand() < 0.2 ? '$' : fixed()));
      out += `(${rand() < 0.3 ? '?:' : ''}${alts.join('|')})`;
    } else out += `(?:${atom()})`;
  }
  return rand() < 0.2 ? `${out}$` : out;
}

function generateSubject(rand: () => number, pattern: string): string {
  // Half the subjects start from the pattern's own literal characters, so many of them match.
  let out = '';
  const length = Math.floor(rand() * 8);
  if (rand() < 0.5) out += pattern.replace(/[^a-z/\\.-]/g, '').replace(/\\/g, '');
  for (let i = 0; i < length; i++) out += SUBJECT_CHARS[Math.floor(rand() * SUBJECT_CHARS.length)];
  return out;
}

describe('RE2 fast path: differential against RE2', () => {
  for (const caseInsensitive of [true, false]) {
    test(`generated patterns, ${caseInsensitive ? 'case-insensitive' : 'case-sensitive'}`, (t) => {
      const rand = prng(caseInsensitive ? 8 : 80);
      let eligible = 0;
      let matched = 0;
      let compared = 0;
      for (let i = 0; i < 1500; i++) {
        const pattern = generatePattern(rand);
        let re2: RE2;
        try {
          re2 = new RE2(source(pattern), caseInsensitive ? 'i' : '');
        } catch {
          continue;
        }
        const verdict = fastPathRegex(source(pattern), caseInsensitive);
        if (!verdict.ok) continue;
        eligible++;
        for (let j = 0; j < 12; j++) {
          const subject = generateSubject(rand, pattern);
          const expected = groupsOf(re2Exec(re2, subject));
          const actual = groupsOf(verdict.regex.exec(subject));
          compared++;
          if (expected !== null) matched++;
          assert.deepEqual(
            actual,
            expected,
            `pattern ${JSON.stringify(pattern)} on ${JSON.stringify(subject)}`,
          );
          assert.equal(verdict.regex.test(subject), re2.test(subject));
        }
      }
      t.diagnostic(`${eligible} eligible patterns, ${compared} subjects compared, ${matched} matched`);
      // The comparison is only worth something if it covered many eligible patterns and matches.
      assert.ok(eligible > 300, `only ${eligible} eligible patterns`);
      assert.ok(matched > compared / 10, `only ${matched} of ${compared} subjects matched`);
    });
  }
});
