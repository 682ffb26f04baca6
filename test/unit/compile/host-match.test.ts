import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HostTable, hostMatches } from '../../../src/compile/host-match.js';

// The hostname wildcards table of the Kubernetes Ingress concept page
// (kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards), plus precise hosts.
const rows = [
  {
    name: '*.foo.com matches bar.foo.com, based on the shared suffix',
    rule: '*.foo.com',
    host: 'bar.foo.com',
    want: true,
  },
  {
    name: '*.foo.com does not match baz.bar.foo.com: the wildcard covers one DNS label',
    rule: '*.foo.com',
    host: 'baz.bar.foo.com',
    want: false,
  },
  {
    name: '*.foo.com does not match foo.com: the wildcard covers exactly one label, not zero',
    rule: '*.foo.com',
    host: 'foo.com',
    want: false,
  },
  {
    name: '*.foo.com does not match .foo.com, whose first label is empty',
    rule: '*.foo.com',
    host: '.foo.com',
    want: false,
  },
  {
    name: '*.foo.com does not match xfoo.com, a string suffix only',
    rule: '*.foo.com',
    host: 'xfoo.com',
    want: false,
  },
  { name: 'a precise host matches only itself', rule: 'foo.bar.com', host: 'foo.bar.com', want: true },
  {
    name: 'a precise host does not match a subdomain of it',
    rule: 'foo.bar.com',
    host: 'subdomain.foo.bar.com',
    want: false,
  },
  {
    name: 'a precise host does not match a sibling',
    rule: 'foo.bar.com',
    host: 'subdomain.bar.com',
    want: false,
  },
  {
    name: 'a single-label precise host matches itself',
    rule: 'exact-path-rules',
    host: 'exact-path-rules',
    want: true,
  },
] as const;

describe('host matching', () => {
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(hostMatches(row.rule, row.host), row.want);
      const table = new HostTable<string>();
      table.set(row.rule, 'hit');
      assert.equal(table.lookup(row.host), row.want ? 'hit' : undefined);
    });
  }

  test('a precise host wins over a wildcard that also matches', () => {
    const table = new HostTable<string>();
    table.set('*.foo.com', 'wildcard');
    table.set('bar.foo.com', 'precise');
    assert.equal(table.lookup('bar.foo.com'), 'precise');
    assert.equal(table.lookup('baz.foo.com'), 'wildcard');
  });

  test('of two wildcards only the one covering exactly the first label matches', () => {
    const table = new HostTable<string>();
    table.set('*.foo.com', 'one');
    table.set('*.bar.foo.com', 'two');
    assert.equal(table.lookup('x.foo.com'), 'one');
    assert.equal(table.lookup('x.bar.foo.com'), 'two');
    assert.equal(table.lookup('bar.foo.com'), 'one');
  });
});
