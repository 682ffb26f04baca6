/**
 * The compiled IP filter: deny-list before allow-list, IPv4, IPv6, IPv4-mapped peers, /0 and
 * single addresses, unreadable peers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileIpFilter, type IpFilterConfig, type IpVerdict } from '../../../src/policy/ip-filter.js';

describe('ip filter', () => {
  const rows: readonly { name: string; config: IpFilterConfig; peers: Record<string, IpVerdict> }[] = [
    {
      name: 'no lists: everyone, even unreadable peers',
      config: {},
      peers: { '10.0.0.1': 'allow', '::1': 'allow', garbage: 'allow' },
    },
    {
      name: 'IPv4 allow-list',
      config: { allow: ['10.0.0.0/8', '192.168.1.7'] },
      peers: {
        '10.0.0.0': 'allow',
        '10.255.255.255': 'allow',
        '11.0.0.0': 'deny',
        '9.255.255.255': 'deny',
        '192.168.1.7': 'allow',
        '192.168.1.8': 'deny',
        '::1': 'deny',
      },
    },
    {
      name: 'IPv4-mapped IPv6 peers are matched as IPv4 (both spellings)',
      config: { allow: ['10.0.0.0/8'] },
      peers: {
        '::ffff:10.1.2.3': 'allow',
        '::ffff:a01:203': 'allow',
        '::FFFF:10.1.2.3': 'allow',
        '::ffff:11.1.2.3': 'deny',
      },
    },
    {
      name: 'an IPv4-mapped entry matches IPv4 peers',
      config: { allow: ['::ffff:192.0.2.0/120'] },
      peers: { '192.0.2.99': 'allow', '::ffff:192.0.2.1': 'allow', '192.0.3.1': 'deny' },
    },
    {
      name: 'IPv6 allow-list, prefixes across word boundaries',
      config: { allow: ['2001:db8::/32', 'fd00:1:2:3:4::/66', '::1'] },
      peers: {
        '2001:db8::1': 'allow',
        '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff': 'allow',
        '2001:db9::': 'deny',
        'fd00:1:2:3:3fff::1': 'allow',
        'fd00:1:2:3:4000::1': 'deny',
        '::1': 'allow',
        '::2': 'deny',
        'fe80::1%eth0': 'deny',
        '10.0.0.1': 'deny',
      },
    },
    {
      name: 'zone ids are dropped from link-local peers',
      config: { allow: ['fe80::/10'] },
      peers: { 'fe80::1%eth0': 'allow', 'fe80::1': 'allow' },
    },
    {
      name: 'deny-list first: a denied address inside the allow-list is refused',
      config: { allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16'] },
      peers: { '10.1.2.3': 'deny', '10.2.0.1': 'allow', '::ffff:10.1.0.1': 'deny', '8.8.8.8': 'deny' },
    },
    {
      name: 'deny-list only: everyone else is allowed',
      config: { deny: ['203.0.113.5', '2001:db8::/48'] },
      peers: {
        '203.0.113.5': 'deny',
        '203.0.113.6': 'allow',
        '2001:db8:0:1::1': 'deny',
        '2001:db8:1::1': 'allow',
      },
    },
    {
      name: '/0 lists',
      config: { allow: ['0.0.0.0/0'], deny: ['::/0'] },
      peers: {
        '1.2.3.4': 'allow',
        '255.255.255.255': 'allow',
        '::ffff:1.2.3.4': 'allow',
        '2001:db8::1': 'deny',
      },
    },
    {
      name: 'with a list set, unreadable peers are refused',
      config: { deny: ['192.0.2.1'] },
      peers: {
        '': 'deny',
        garbage: 'deny',
        '1.2.3.256': 'deny',
        '01.2.3.4': 'deny',
        '1:2:3': 'deny',
        'zz::1': 'deny',
      },
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const filter = compileIpFilter(r.config);
      assert.deepEqual(filter.problems, []);
      const got = Object.fromEntries(Object.keys(r.peers).map((p) => [p, filter.check(p)]));
      assert.deepEqual(got, r.peers);
    });
  }

  test('an undefined peer address is refused when a list is set', () => {
    assert.equal(compileIpFilter({ allow: ['0.0.0.0/0'] }).check(undefined), 'deny');
    assert.equal(compileIpFilter({}).check(undefined), 'allow');
  });

  test('bad entries are reported and never widen the allow-list', () => {
    const filter = compileIpFilter({ allow: ['not-an-ip'], deny: ['10.0.0.0/33'] });
    assert.deepEqual(filter.problems, [
      { entry: '10.0.0.0/33', reason: 'not an IP address or CIDR' },
      { entry: 'not-an-ip', reason: 'not an IP address or CIDR' },
    ]);
    assert.equal(filter.check('10.0.0.1'), 'deny');
  });
});
