/**
 * htpasswd parsing and hash checks. MD5 vectors come from `openssl passwd` at test time, so the
 * MD5-crypt code is checked against an independent implementation, not against itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import {
  md5crypt,
  parseAuthMap,
  parseHash,
  parseHtpasswd,
  verifyPassword,
} from '../../../../src/policy/auth/htpasswd.js';

const openssl = (scheme: '-apr1' | '-1', salt: string, password: string): string =>
  execFileSync('openssl', ['passwd', scheme, '-salt', salt, password], { timeout: 5_000 }).toString().trim();

const compare = (password: string, hash: string): Promise<boolean> => bcrypt.compare(password, hash);

// PHP manual's password_verify example: a bcrypt $2y$ hash written by another implementation.
const PHP_2Y = '$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq';
const SHA_PASSWORD = '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='; // "password"

describe('md5crypt matches openssl passwd', () => {
  const cases: readonly [string, string][] = [
    ['pass', 'abc'],
    ['', 'x'],
    ['sixteen-bytes-pw', 'saltsalt'],
    ['a much longer password, beyond sixteen bytes and thirty-two bytes too', '12345678'],
    ['pässwörd ✓', 'sAlT/.9z'],
    ['colon:inside', 'Q'],
  ];
  for (const [password, salt] of cases) {
    test(`${JSON.stringify(password)} / ${salt}`, () => {
      assert.equal(md5crypt(password, salt, '$apr1$'), openssl('-apr1', salt, password));
      assert.equal(md5crypt(password, salt, '$1$'), openssl('-1', salt, password));
    });
  }
});

describe('verifyPassword per scheme', () => {
  const bcrypt2b = bcrypt.hashSync('s3cret', 4);
  const rows: readonly { name: string; hash: () => string; right: string; wrong: string }[] = [
    { name: 'bcrypt $2y$ (PHP vector)', hash: () => PHP_2Y, right: 'rasmuslerdorf', wrong: 'rasmus' },
    { name: 'bcrypt $2b$', hash: () => bcrypt2b, right: 's3cret', wrong: 's3cre' },
    { name: 'bcrypt $2a$', hash: () => bcrypt2b.replace('$2b$', '$2a$'), right: 's3cret', wrong: 'S3cret' },
    {
      name: 'bcrypt $2y$ (htpasswd -B spelling)',
      hash: () => bcrypt2b.replace('$2b$', '$2y$'),
      right: 's3cret',
      wrong: '',
    },
    { name: 'apr1', hash: () => openssl('-apr1', 'Kx9.q/zZ', 'hunter2'), right: 'hunter2', wrong: 'hunter3' },
    {
      name: '$1$ md5crypt',
      hash: () => openssl('-1', 'abcd', 'hunter2'),
      right: 'hunter2',
      wrong: 'Hunter2',
    },
    { name: '{SHA}', hash: () => SHA_PASSWORD, right: 'password', wrong: 'Password' },
  ];
  for (const r of rows) {
    test(r.name, async () => {
      const parsed = parseHash(r.hash());
      assert.ok(parsed.ok, 'parses');
      assert.equal(await verifyPassword(parsed.verifier, r.right, compare), true);
      assert.equal(await verifyPassword(parsed.verifier, r.wrong, compare), false);
    });
  }

  test('a throwing bcrypt implementation counts as a mismatch', async () => {
    const parsed = parseHash(PHP_2Y);
    assert.ok(parsed.ok);
    const broken = (): Promise<boolean> => Promise.reject(new Error('boom'));
    assert.equal(await verifyPassword(parsed.verifier, 'rasmuslerdorf', broken), false);
  });
});

describe('parseHtpasswd', () => {
  test('each scheme, comments, blank lines, CRLF, a trailing comment field', () => {
    const apr1 = openssl('-apr1', 'salt', 'pw');
    const file = [
      '# users of the shop',
      '',
      `alice:${PHP_2Y}`,
      `bob:${apr1}:Bob the builder`,
      '   ',
      `carol:${SHA_PASSWORD}`,
      '  # indented comment',
      '',
    ].join('\r\n');
    const got = parseHtpasswd(file);
    assert.deepEqual(got.problems, []);
    assert.deepEqual([...got.users.keys()], ['alice', 'bob', 'carol']);
    assert.deepEqual(
      [...got.users.values()].map((v) => [v.scheme, v.hash]),
      [
        ['bcrypt', PHP_2Y],
        ['md5crypt', apr1],
        ['sha1', SHA_PASSWORD],
      ],
    );
  });

  test('bad lines are reported with their line numbers; good lines still load', () => {
    const file = [
      `ok:${SHA_PASSWORD}`, // 1
      'plain:secret', // 2
      'plainer:{PLAIN}secret', // 3
      'des:rl.3StKT.4T8M', // 4
      'sha512:$6$salt$abcdefghijklmnopqrstuvwxyz', // 5
      'nocolon', // 6
      ':{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', // 7
      'short:$2y$10$tooshort', // 8
      `ok:${PHP_2Y}`, // 9
      'empty:', // 10
      'ssha:{SSHA}abcdef', // 11
      'badsha:{SHA}abc', // 12
      'lowcost:$2y$03$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq', // 13
      'ctl\u0001:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', // 14
      'badmd5:$apr1$toolongsalt$xxxxxxxxxxxxxxxxxxxxxx', // 15
    ].join('\n');
    const got = parseHtpasswd(Buffer.from(file));
    assert.deepEqual([...got.users.keys()], ['ok']);
    assert.equal(got.users.get('ok')?.scheme, 'sha1', 'the first entry of a user wins');
    assert.deepEqual(got.problems, [
      { line: 2, reason: 'user "plain": unrecognised password hash (plain text?); use htpasswd -B (bcrypt)' },
      {
        line: 3,
        reason: 'user "plainer": plain-text passwords ({PLAIN}) are not supported; use htpasswd -B (bcrypt)',
      },
      { line: 4, reason: 'user "des": DES crypt is not supported; use htpasswd -B (bcrypt)' },
      { line: 5, reason: 'user "sha512": SHA-crypt ($5$/$6$) is not supported; use htpasswd -B (bcrypt)' },
      { line: 6, reason: 'expected "user:hash"' },
      { line: 7, reason: 'empty user name' },
      { line: 8, reason: 'user "short": malformed bcrypt hash (or the unsupported $2x$ variant)' },
      { line: 9, reason: 'duplicate user "ok": the first entry is used' },
      { line: 10, reason: 'user "empty": empty password hash' },
      { line: 11, reason: 'user "ssha": salted SHA-1 ({SSHA}) is not supported; use htpasswd -B (bcrypt)' },
      { line: 12, reason: 'user "badsha": malformed {SHA} hash (expected base64 of 20 bytes)' },
      { line: 13, reason: 'user "lowcost": bcrypt cost 3 is outside 4..31' },
      { line: 14, reason: 'control character in user name' },
      { line: 15, reason: 'user "badmd5": malformed MD5 hash' },
    ]);
  });

  test('an empty or binary file never throws', () => {
    assert.deepEqual(parseHtpasswd(''), { users: new Map(), problems: [] });
    const junk = parseHtpasswd(Uint8Array.from([0xff, 0xfe, 0x3a, 0x00, 0x0a, 0x80]));
    assert.equal(junk.users.size, 0);
    assert.equal(junk.problems.length, 2);
  });
});

describe('parseAuthMap', () => {
  test('keys are users, values hashes (trailing newline from --from-file dropped)', () => {
    const got = parseAuthMap({
      zed: `${SHA_PASSWORD}\n`,
      amy: Buffer.from(PHP_2Y),
      'bad:user': SHA_PASSWORD,
      plain: 'secret',
    });
    assert.deepEqual([...got.users.keys()], ['amy', 'zed']);
    assert.deepEqual(got.problems, [
      { key: 'bad:user', reason: 'user names cannot contain ":"' },
      {
        key: 'plain',
        reason: 'user "plain": unrecognised password hash (plain text?); use htpasswd -B (bcrypt)',
      },
    ]);
  });
});
