import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyHeader, proxyHeaderV1, proxyHeaderV2 } from '../../../../src/l4/userspace/proxy-header.js';
import { parseProxyHeader } from '../../../../src/proxy/proxy-protocol.js';

const SIG = '0d0a0d0a000d0a515549540a';
const ffff16 = 'ff'.repeat(16);

const v1Cases = [
  {
    name: 'v1 writes the specification example for TCP4',
    source: { address: '192.168.0.1', port: 56324 },
    destination: { address: '192.168.0.11', port: 443 },
    expected: 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
  },
  {
    name: 'v1 writes the specification worst case for TCP4 in 56 bytes',
    source: { address: '255.255.255.255', port: 65535 },
    destination: { address: '255.255.255.255', port: 65535 },
    expected: 'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n',
  },
  {
    name: 'v1 writes the specification worst case for TCP6 in 104 bytes',
    source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    destination: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    expected:
      'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
  },
  {
    name: 'v1 writes IPv6 addresses compressed (RFC 5952)',
    source: { address: '2001:0db8:0000:0000:0000:0000:0000:0001', port: 1 },
    destination: { address: '::1', port: 2 },
    expected: 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n',
  },
  {
    name: 'v1 writes IPv4-mapped IPv6 ends as TCP4',
    source: { address: '::ffff:127.0.0.1', port: 40000 },
    destination: { address: '::ffff:127.0.0.2', port: 80 },
    expected: 'PROXY TCP4 127.0.0.1 127.0.0.2 40000 80\r\n',
  },
  {
    name: 'v1 writes a mixed-family pair as TCP6 with the IPv4 end mapped',
    source: { address: '10.0.0.1', port: 5 },
    destination: { address: '2001:db8::1', port: 6 },
    expected: 'PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 5 6\r\n',
  },
  {
    name: 'v1 writes UNKNOWN when an end is unknown',
    source: undefined,
    destination: { address: '10.0.0.1', port: 80 },
    expected: 'PROXY UNKNOWN\r\n',
  },
] as const;

for (const c of v1Cases) {
  test(c.name, () => {
    const header = proxyHeaderV1(c.source, c.destination);
    assert.equal(header.toString('latin1'), c.expected);
    assert.equal(header.length, c.expected.length);
  });
}

const v2Cases = [
  {
    name: 'v2 writes TCP4 as 16 fixed bytes and a 12-byte address block',
    source: { address: '192.168.0.1', port: 56324 },
    destination: { address: '192.168.0.11', port: 443 },
    expected: `${SIG}2111000cc0a80001c0a8000bdc0401bb`,
    length: 28,
  },
  {
    name: 'v2 writes TCP6 as 16 fixed bytes and a 36-byte address block',
    source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    destination: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    expected: `${SIG}21210024${ffff16}${ffff16}ffffffff`,
    length: 52,
  },
  {
    name: 'v2 writes ::1 to 2001:db8::2 with the address bytes in network order',
    source: { address: '::1', port: 1 },
    destination: { address: '2001:db8::2', port: 258 },
    expected: `${SIG}21210024${'00'.repeat(15)}0120010db8${'00'.repeat(11)}0200010102`,
    length: 52,
  },
  {
    name: 'v2 writes a LOCAL header with no address block when an end is unknown',
    source: { address: '10.0.0.1', port: 1 },
    destination: undefined,
    expected: `${SIG}20000000`,
    length: 16,
  },
] as const;

for (const c of v2Cases) {
  test(c.name, () => {
    const header = proxyHeaderV2(c.source, c.destination);
    assert.equal(header.toString('hex'), c.expected);
    assert.equal(header.length, c.length);
  });
}

const roundTrips = [
  { source: { address: '127.0.0.1', port: 40001 }, destination: { address: '127.0.0.1', port: 8443 } },
  { source: { address: '::1', port: 1 }, destination: { address: 'fe80::1:2', port: 65535 } },
  { source: { address: '0.0.0.0', port: 0 }, destination: { address: '255.255.255.255', port: 65535 } },
] as const;

for (const version of [1, 2] as const) {
  for (const c of roundTrips) {
    test(`Portico's PROXY reader reads back a v${version} header from ${c.source.address} to ${c.destination.address}`, () => {
      const header = proxyHeader(version, c.source, c.destination);
      const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('rest')]));
      assert.equal(parsed.state, 'done');
      if (parsed.state !== 'done') return;
      assert.equal(parsed.headerBytes, header.length);
      assert.equal(parsed.rest.toString(), 'rest');
      assert.deepEqual(parsed.header, {
        version,
        command: 'proxy',
        family: c.source.address.includes(':') ? 'tcp6' : 'tcp4',
        source: c.source,
        destination: c.destination,
      });
    });
  }
  test(`Portico's PROXY reader takes a v${version} header without addresses as local`, () => {
    const parsed = parseProxyHeader(proxyHeader(version, undefined, undefined));
    assert.equal(parsed.state, 'done');
    if (parsed.state === 'done') assert.equal(parsed.header.command, 'local');
  });
}
