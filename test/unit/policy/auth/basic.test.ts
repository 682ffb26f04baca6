/**
 * `BasicAuthenticator`: header parsing (RFC 7617), right and wrong passwords per scheme, the
 * verified-credential cache (counted with a spy, clocks injected), and the challenge.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import {
  BasicAuthenticator,
  type BasicAuthOptions,
  type BasicAuthResult,
  challenge,
  parseBasicAuthorization,
} from '../../../../src/policy/auth/basic.js';
import { parseAuthMap, parseHtpasswd } from '../../../../src/policy/auth/htpasswd.js';

const header = (credentials: string): string =>
  `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
const apr1 = (salt: string, password: string): string =>
  execFileSync('openssl', ['passwd', '-apr1', '-salt', salt, password], { timeout: 5_000 }).toString().trim();

const BCRYPT = bcrypt.hashSync('bcrypt-pw', 4).replace('$2b$', '$2y$');
const FILE = [
  `bea:${BCRYPT}`,
  `april:${apr1('xyz', 'apr1-pw')}`,
  'sam:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
  `colin:${apr1('c', 'pa:ss:word')}`,
  `uwe:${apr1('u', 'pässwörd')}`,
].join('\n');

/** A bcrypt spy: counts calls, defers to bcryptjs. */
function spy(): { calls: number; compare: (password: string, hash: string) => Promise<boolean> } {
  const s = {
    calls: 0,
    compare: (password: string, hash: string): Promise<boolean> => {
      s.calls++;
      return bcrypt.compare(password, hash);
    },
  };
  return s;
}

function authenticator(options: BasicAuthOptions = {}): BasicAuthenticator {
  const parsed = parseHtpasswd(FILE);
  assert.deepEqual(parsed.problems, []);
  return new BasicAuthenticator(parsed, options);
}

describe('parseBasicAuthorization', () => {
  const rows: readonly [string, string | undefined, ReturnType<typeof parseBasicAuthorization>][] = [
    ['absent', undefined, { ok: false, reason: 'missing' }],
    ['blank', '  ', { ok: false, reason: 'missing' }],
    ['Bearer', 'Bearer abc', { ok: false, reason: 'not-basic' }],
    ['scheme only', 'Basic', { ok: false, reason: 'malformed' }],
    ['scheme and spaces', 'Basic   ', { ok: false, reason: 'malformed' }],
    [
      'scheme is case-insensitive',
      `bAsIc ${header('a:b').slice(6)}`,
      { ok: true, credentials: { user: 'a', password: 'b' } },
    ],
    [
      'extra spaces',
      `Basic    ${header('a:b').slice(6)}`,
      { ok: true, credentials: { user: 'a', password: 'b' } },
    ],
    [
      'password may contain colons',
      header('u:p:q:'),
      { ok: true, credentials: { user: 'u', password: 'p:q:' } },
    ],
    ['empty password', header('u:'), { ok: true, credentials: { user: 'u', password: '' } }],
    ['UTF-8', header('jürgen:pässwörd'), { ok: true, credentials: { user: 'jürgen', password: 'pässwörd' } }],
    ['unpadded base64', 'Basic YTpi', { ok: true, credentials: { user: 'a', password: 'b' } }],
    ['no colon', header('justauser'), { ok: false, reason: 'malformed' }],
    ['empty user', header(':pw'), { ok: false, reason: 'malformed' }],
    ['not base64', 'Basic !!!!', { ok: false, reason: 'malformed' }],
    ['base64 with a lone trailing character', 'Basic YTpiY', { ok: false, reason: 'malformed' }],
    [
      'invalid UTF-8',
      `Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString('base64')}`,
      { ok: false, reason: 'malformed' },
    ],
    ['control character in the user', header('a\nb:c'), { ok: false, reason: 'malformed' }],
    ['control character in the password', header('a:b\r\n'), { ok: false, reason: 'malformed' }],
    ['oversized', `Basic ${'A'.repeat(5000)}`, { ok: false, reason: 'malformed' }],
  ];
  for (const [name, input, want] of rows) {
    test(name, () => assert.deepEqual(parseBasicAuthorization(input), want));
  }
});

describe('BasicAuthenticator.verify', () => {
  const rows: readonly { name: string; authorization: string | undefined; want: BasicAuthResult }[] = [
    { name: 'bcrypt $2y$: right', authorization: header('bea:bcrypt-pw'), want: { ok: true, user: 'bea' } },
    {
      name: 'bcrypt $2y$: wrong',
      authorization: header('bea:bcrypt-PW'),
      want: { ok: false, reason: 'wrong-password', user: 'bea' },
    },
    { name: 'apr1: right', authorization: header('april:apr1-pw'), want: { ok: true, user: 'april' } },
    {
      name: 'apr1: wrong',
      authorization: header('april:apr1-p'),
      want: { ok: false, reason: 'wrong-password', user: 'april' },
    },
    { name: '{SHA}: right', authorization: header('sam:password'), want: { ok: true, user: 'sam' } },
    {
      name: '{SHA}: wrong',
      authorization: header('sam:passwor'),
      want: { ok: false, reason: 'wrong-password', user: 'sam' },
    },
    {
      name: 'a password with colons',
      authorization: header('colin:pa:ss:word'),
      want: { ok: true, user: 'colin' },
    },
    {
      name: 'a user name cannot carry a colon: "colin:pa" is user colin',
      authorization: header('colin:pa:ss:wor'),
      want: { ok: false, reason: 'wrong-password', user: 'colin' },
    },
    { name: 'UTF-8 password', authorization: header('uwe:pässwörd'), want: { ok: true, user: 'uwe' } },
    {
      name: 'unknown user',
      authorization: header('mallory:password'),
      want: { ok: false, reason: 'unknown-user', user: 'mallory' },
    },
    { name: 'no header', authorization: undefined, want: { ok: false, reason: 'missing' } },
    { name: 'malformed header', authorization: 'Basic %%%', want: { ok: false, reason: 'malformed' } },
    {
      name: 'another scheme',
      authorization: 'Digest username="bea"',
      want: { ok: false, reason: 'not-basic' },
    },
  ];
  for (const r of rows) {
    test(r.name, async () => assert.deepEqual(await authenticator().verify(r.authorization), r.want));
  }

  test('a user whose map key has a colon is refused at parse time and cannot log in', async () => {
    const parsed = parseAuthMap({ 'a:b': '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=' });
    assert.equal(parsed.problems.length, 1);
    const auth = new BasicAuthenticator(parsed);
    assert.deepEqual(await auth.verify(header('a:b:password')), {
      ok: false,
      reason: 'unknown-user',
      user: 'a',
    });
  });
});

describe('verified-credential cache', () => {
  test('a hit avoids bcrypt; a wrong password is never cached', async () => {
    const bc = spy();
    const auth = authenticator({ compareBcrypt: bc.compare, now: () => 0 });
    assert.deepEqual(await auth.verify(header('bea:bcrypt-pw')), { ok: true, user: 'bea' });
    assert.equal(bc.calls, 1);
    for (let i = 0; i < 5; i++)
      assert.deepEqual(await auth.verify(header('bea:bcrypt-pw')), { ok: true, user: 'bea' });
    assert.equal(bc.calls, 1, 'hits do not run bcrypt');
    assert.equal((await auth.verify(header('bea:wrong'))).ok, false);
    assert.equal((await auth.verify(header('bea:wrong'))).ok, false);
    assert.equal(bc.calls, 3, 'failures run bcrypt every time');
    assert.equal(auth.cacheSize, 1);
  });

  test('verifyCached answers hits and clear refusals synchronously, and leaves hash checks to verify', async () => {
    const bc = spy();
    let now = 0;
    const auth = authenticator({ compareBcrypt: bc.compare, now: () => now, ttlMs: 1_000 });
    assert.equal(
      auth.verifyCached(header('bea:bcrypt-pw')),
      undefined,
      'not verified yet: a hash check is due',
    );
    assert.deepEqual(auth.verifyCached(undefined), { ok: false, reason: 'missing' });
    assert.deepEqual(auth.verifyCached(header('zed:x')), { ok: false, reason: 'unknown-user', user: 'zed' });
    await auth.verify(header('bea:bcrypt-pw'));
    assert.deepEqual(auth.verifyCached(header('bea:bcrypt-pw')), { ok: true, user: 'bea' });
    assert.equal(auth.verifyCached(header('bea:wrong')), undefined, 'a wrong password is never a hit');
    now = 1_000;
    assert.equal(auth.verifyCached(header('bea:bcrypt-pw')), undefined, 'expired');
    assert.equal(bc.calls, 1);
  });

  test('concurrent requests with the same credentials share one bcrypt', async () => {
    const bc = spy();
    const auth = authenticator({ compareBcrypt: bc.compare, now: () => 0 });
    const results = await Promise.all(Array.from({ length: 10 }, () => auth.verify(header('bea:bcrypt-pw'))));
    assert.ok(results.every((r) => r.ok));
    assert.equal(bc.calls, 1);
  });

  test('entries expire after the TTL', async () => {
    const bc = spy();
    let now = 1_000;
    const auth = authenticator({ compareBcrypt: bc.compare, now: () => now, ttlMs: 60_000 });
    await auth.verify(header('bea:bcrypt-pw'));
    now += 59_999;
    await auth.verify(header('bea:bcrypt-pw'));
    assert.equal(bc.calls, 1);
    now += 1;
    await auth.verify(header('bea:bcrypt-pw'));
    assert.equal(bc.calls, 2, 'expired: checked again');
  });

  test('bounded: the least recently used entry is evicted', async () => {
    const auth = authenticator({ now: () => 0, maxEntries: 2 });
    await auth.verify(header('sam:password')); // miss 1
    await auth.verify(header('april:apr1-pw')); // miss 2
    await auth.verify(header('sam:password')); // hit: sam is now the most recent
    await auth.verify(header('colin:pa:ss:word')); // miss 3, evicts april
    assert.equal(auth.cacheSize, 2);
    assert.equal(auth.hashChecks, 3);
    await auth.verify(header('sam:password')); // still cached
    assert.equal(auth.hashChecks, 3);
    await auth.verify(header('april:apr1-pw')); // evicted: checked again
    assert.equal(auth.hashChecks, 4);
  });

  test('a new file version starts empty and a changed hash never matches an old entry', async () => {
    const bc = spy();
    const first = authenticator({ compareBcrypt: bc.compare, now: () => 0 });
    await first.verify(header('bea:bcrypt-pw'));
    const rotated = new BasicAuthenticator(parseHtpasswd(`bea:${bcrypt.hashSync('new-pw', 4)}`), {
      compareBcrypt: bc.compare,
      now: () => 0,
    });
    assert.deepEqual(await rotated.verify(header('bea:bcrypt-pw')), {
      ok: false,
      reason: 'wrong-password',
      user: 'bea',
    });
    assert.deepEqual(await rotated.verify(header('bea:new-pw')), { ok: true, user: 'bea' });
    assert.equal(bc.calls, 3);
  });
});

describe('challenge', () => {
  test('WWW-Authenticate value', () => {
    assert.equal(challenge(''), 'Basic realm="", charset="UTF-8"');
    assert.equal(
      challenge('Authentication Required - shop'),
      'Basic realm="Authentication Required - shop", charset="UTF-8"',
    );
  });
});
