import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { describe, test } from 'node:test';
import { createSecureContext } from 'node:tls';
import { DEFAULT_TLS_SETTINGS } from '../../../src/model/settings/tls.js';
import {
  handshakeOptions,
  opensslCipherCheck,
  SessionCache,
  selectAlpn,
} from '../../../src/proxy/tls-settings.js';

const id = (n: number): Buffer => Buffer.alloc(32, n);
const data = (bytes: number): Buffer => Buffer.alloc(bytes, 7);

describe('SessionCache', () => {
  test('stores and finds sessions by id; unknown ids miss', () => {
    const cache = new SessionCache({ enabled: true, maxBytes: 10_000, timeoutMs: 60_000 });
    cache.store(id(1), data(100));
    assert.deepEqual(cache.lookup(id(1)), data(100));
    assert.equal(cache.lookup(id(2)), undefined);
    assert.equal(cache.bytes, 132);
  });

  test('is bounded by bytes and evicts the least recently used first', () => {
    const cache = new SessionCache({ enabled: true, maxBytes: 3 * 132, timeoutMs: 60_000 });
    cache.store(id(1), data(100));
    cache.store(id(2), data(100));
    cache.store(id(3), data(100));
    cache.lookup(id(1)); // 2 is now the least recently used
    cache.store(id(4), data(100));
    assert.equal(cache.size, 3);
    assert.equal(cache.lookup(id(2)), undefined);
    for (const n of [1, 3, 4]) assert.ok(cache.lookup(id(n)) !== undefined, `session ${n}`);
    assert.ok(cache.bytes <= 3 * 132);
  });

  test('a session larger than the whole cache is not kept', () => {
    const cache = new SessionCache({ enabled: true, maxBytes: 1024, timeoutMs: 60_000 });
    cache.store(id(1), data(2048));
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  test('sessions expire after the timeout, and expired ones are dropped on the next store', () => {
    let now = 1_000;
    const cache = new SessionCache({ enabled: true, maxBytes: 10_000, timeoutMs: 500 }, () => now);
    cache.store(id(1), data(10));
    now += 499;
    assert.ok(cache.lookup(id(1)) !== undefined);
    now += 1;
    assert.equal(cache.lookup(id(1)), undefined);
    assert.equal(cache.bytes, 0);
    cache.store(id(2), data(10));
    now += 600;
    cache.store(id(3), data(10));
    assert.equal(cache.size, 1, 'the expired session went when the new one came');
  });

  test('storing an id again replaces the session and its byte count', () => {
    const cache = new SessionCache({ enabled: true, maxBytes: 10_000, timeoutMs: 60_000 });
    cache.store(id(1), data(100));
    cache.store(id(1), data(50));
    assert.equal(cache.size, 1);
    assert.equal(cache.bytes, 82);
  });

  test('disabled, it stores nothing and finds nothing; turning it off empties it; shrinking evicts', () => {
    const cache = new SessionCache({ enabled: false, maxBytes: 10_000, timeoutMs: 60_000 });
    cache.store(id(1), data(10));
    assert.equal(cache.size, 0);
    cache.configure({ enabled: true, maxBytes: 10_000, timeoutMs: 60_000 });
    for (let n = 0; n < 10; n++) cache.store(id(n), data(100));
    cache.configure({ enabled: true, maxBytes: 2 * 132, timeoutMs: 60_000 });
    assert.equal(cache.size, 2);
    assert.ok(cache.lookup(id(9)) !== undefined, 'the most recent stay');
    cache.configure({ enabled: false, maxBytes: 10_000, timeoutMs: 60_000 });
    assert.equal(cache.size, 0);
    assert.equal(cache.lookup(id(9)), undefined);
  });

  test('the server event listeners answer through their callbacks', () => {
    const cache = new SessionCache({ enabled: true, maxBytes: 10_000, timeoutMs: 60_000 });
    let stored = false;
    cache.onNewSession(id(1), data(10), () => {
      stored = true;
    });
    assert.ok(stored);
    let found: Buffer | null | undefined;
    cache.onResumeSession(id(1), (_err, d) => {
      found = d;
    });
    assert.deepEqual(found, data(10));
    cache.onResumeSession(id(2), (_err, d) => {
      found = d;
    });
    assert.equal(found, null);
  });
});

describe('selectAlpn', () => {
  const cases = [
    { http2: true, offered: ['h2', 'http/1.1'], want: 'h2' },
    { http2: true, offered: ['http/1.1', 'h2'], want: 'h2' },
    { http2: true, offered: ['http/1.1'], want: 'http/1.1' },
    { http2: false, offered: ['h2', 'http/1.1'], want: 'http/1.1' },
    { http2: false, offered: ['h2'], want: undefined },
    { http2: true, offered: ['spdy/3'], want: undefined },
  ] as const;
  for (const c of cases) {
    test(`use-http2 ${c.http2}, client offers ${c.offered.join(',')} → ${String(c.want)}`, () => {
      assert.equal(selectAlpn(() => c.http2)({ protocols: [...c.offered] }), c.want);
    });
  }
});

describe('handshakeOptions', () => {
  test('ingress-nginx defaults: TLS 1.2 to 1.3, the list with ECDSA suites last, auto DH, no tickets', () => {
    const o = handshakeOptions(DEFAULT_TLS_SETTINGS);
    assert.equal(o.minVersion, 'TLSv1.2');
    assert.equal(o.maxVersion, 'TLSv1.3');
    assert.equal(o.ciphers, `${DEFAULT_TLS_SETTINGS.ciphers}:+aECDSA`);
    assert.equal(o.dhparam, 'auto');
    assert.equal(o.secureOptions, constants.SSL_OP_NO_TICKET);
    // OpenSSL takes it.
    createSecureContext(o);
  });

  test('one protocol, tickets on', () => {
    const o = handshakeOptions({ ...DEFAULT_TLS_SETTINGS, protocols: ['TLSv1.3'], sessionTickets: true });
    assert.equal(o.minVersion, 'TLSv1.3');
    assert.equal(o.maxVersion, 'TLSv1.3');
    assert.equal(o.secureOptions, undefined);
  });

  test('opensslCipherCheck accepts what OpenSSL accepts and says why it refuses', () => {
    assert.equal(opensslCipherCheck('ECDHE-RSA-AES128-GCM-SHA256'), undefined);
    assert.equal(opensslCipherCheck('HIGH:!aNULL'), undefined);
    assert.match(opensslCipherCheck('NOPE') ?? '', /no cipher match/);
  });
});
