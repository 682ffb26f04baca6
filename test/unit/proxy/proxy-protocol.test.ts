import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MAX_V1_HEADER_BYTES,
  MAX_V2_HEADER_BYTES,
  type ProxyHeader,
  type ProxyHeaderProgress,
  ProxyHeaderReader,
  parseProxyHeader,
} from '../../../src/proxy/proxy-protocol.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nhost: a.test\r\n\r\n', 'latin1');

/** `v2` builds a v2 header: version/command byte, family byte, then the body (addresses, TLVs). */
function v2(versionCommand: number, family: number, body: Buffer, length = body.length): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = versionCommand;
  fixed[1] = family;
  fixed.writeUInt16BE(length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

function inet(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src, 'hex').copy(b, 0);
  Buffer.from(dst, 'hex').copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

/** A TLV: type, 16-bit length, value. */
function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const INET_BLOCK = inet([203, 0, 113, 7], [10, 0, 0, 1], 5555, 443);
const LOCAL: ProxyHeader = { version: 2, command: 'local' };
const tcp4 = (version: 1 | 2, sport: number, dport: number): ProxyHeader => ({
  version,
  command: 'proxy',
  family: 'tcp4',
  source: { address: '203.0.113.7', port: sport },
  destination: { address: '10.0.0.1', port: dport },
});

const valid: readonly { name: string; header: Buffer; want: ProxyHeader }[] = [
  {
    name: 'a v1 TCP4 line gives the source and destination',
    header: text('PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n'),
    want: tcp4(1, 5555, 80),
  },
  {
    name: 'a v1 TCP6 line gives IPv6 addresses in RFC 5952 form',
    header: text('PROXY TCP6 2001:0DB8:0:0:0:0:0:1 2001:db8::2 65535 0\r\n'),
    want: {
      version: 1,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 65_535 },
      destination: { address: '2001:db8::2', port: 0 },
    },
  },
  {
    name: 'a v1 TCP6 line with an IPv4-mapped address keeps it as ::ffff:a.b.c.d',
    header: text('PROXY TCP6 ::ffff:198.51.100.9 ::1 1 2\r\n'),
    want: {
      version: 1,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '::ffff:198.51.100.9', port: 1 },
      destination: { address: '::1', port: 2 },
    },
  },
  {
    name: 'a v1 UNKNOWN line carries no address',
    header: text('PROXY UNKNOWN\r\n'),
    want: { version: 1, command: 'local' },
  },
  {
    name: 'a v1 UNKNOWN line ignores whatever follows UNKNOWN',
    header: text('PROXY UNKNOWN ffff:f::1 whatever 1 2\r\n'),
    want: { version: 1, command: 'local' },
  },
  {
    name: 'a v1 line of exactly 107 bytes is accepted',
    header: text(`PROXY UNKNOWN ${'x'.repeat(MAX_V1_HEADER_BYTES - 'PROXY UNKNOWN \r\n'.length)}\r\n`),
    want: { version: 1, command: 'local' },
  },
  {
    name: 'a v2 PROXY header over TCP/IPv4 gives the source and destination',
    header: v2(0x21, 0x11, INET_BLOCK),
    want: tcp4(2, 5555, 443),
  },
  {
    name: 'a v2 PROXY header over TCP/IPv6 gives IPv6 addresses in RFC 5952 form',
    header: v2(
      0x21,
      0x21,
      inet6('20010db8000000000000000000000001', '20010db8000000000000000000000002', 40000, 443),
    ),
    want: {
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 40_000 },
      destination: { address: '2001:db8::2', port: 443 },
    },
  },
  {
    name: 'a v2 IPv4-mapped IPv6 source reads as ::ffff:a.b.c.d',
    header: v2(
      0x21,
      0x21,
      inet6('00000000000000000000ffffc6336409', '00000000000000000000000000000001', 7, 8),
    ),
    want: {
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '::ffff:198.51.100.9', port: 7 },
      destination: { address: '::1', port: 8 },
    },
  },
  {
    name: 'v2 TLVs after the addresses are skipped and not taken for stream bytes',
    header: v2(
      0x21,
      0x11,
      Buffer.concat([
        INET_BLOCK,
        tlv(0x01, text('h2')),
        tlv(0x04, Buffer.alloc(0)),
        tlv(0xea, text('vpce-1')),
      ]),
    ),
    want: tcp4(2, 5555, 443),
  },
  {
    name: 'a v2 LOCAL header (a health check) carries no address, even with an address block',
    header: v2(0x20, 0x11, INET_BLOCK),
    want: LOCAL,
  },
  { name: 'a v2 LOCAL header may be empty', header: v2(0x20, 0x00, Buffer.alloc(0)), want: LOCAL },
  {
    name: 'a v2 PROXY header with AF_UNSPEC carries no address',
    header: v2(0x21, 0x00, Buffer.alloc(0)),
    want: LOCAL,
  },
  {
    name: 'a v2 UDP/IPv4 header falls back to the connection endpoints',
    header: v2(0x21, 0x12, INET_BLOCK),
    want: LOCAL,
  },
  {
    name: 'a v2 UNIX stream header falls back to the connection endpoints',
    header: v2(0x21, 0x31, Buffer.alloc(216)),
    want: LOCAL,
  },
  {
    name: `a v2 header of exactly ${MAX_V2_HEADER_BYTES} bytes is accepted`,
    header: v2(
      0x21,
      0x11,
      Buffer.concat([INET_BLOCK, tlv(0x04, Buffer.alloc(MAX_V2_HEADER_BYTES - 16 - 12 - 3))]),
    ),
    want: tcp4(2, 5555, 443),
  },
];

const invalid: readonly { name: string; data: Buffer; reason: RegExp }[] = [
  {
    name: 'an HTTP request without a header is refused on its first byte',
    data: REQUEST,
    reason: /does not start with a PROXY protocol header/,
  },
  {
    name: 'a TLS ClientHello without a header is refused',
    data: Buffer.from('160301', 'hex'),
    reason: /does not start with a PROXY protocol header/,
  },
  {
    name: 'a lowercase v1 keyword is refused',
    data: text('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'),
    reason: /does not start/,
  },
  { name: 'PROXY without a space is refused', data: text('PROXYTCP4'), reason: /does not start/ },
  {
    name: 'a v1 line ended by LF alone is refused',
    data: text('PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\n'),
    reason: /does not end with CRLF/,
  },
  {
    name: 'a v1 line longer than 107 bytes is refused',
    data: text(`PROXY UNKNOWN ${'x'.repeat(MAX_V1_HEADER_BYTES)}\r\n`),
    reason: /longer than 107 bytes/,
  },
  {
    name: 'a v1 line of 108 bytes is refused',
    data: text(`PROXY UNKNOWN ${'x'.repeat(MAX_V1_HEADER_BYTES + 1 - 'PROXY UNKNOWN \r\n'.length)}\r\n`),
    reason: /longer than 107 bytes/,
  },
  {
    name: 'a v1 protocol other than TCP4, TCP6, UNKNOWN is refused',
    data: text('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'),
    reason: /"UDP4" is not TCP4/,
  },
  { name: 'an empty v1 protocol is refused', data: text('PROXY \r\n'), reason: /"" is not TCP4/ },
  {
    name: 'a v1 TCP4 line with an IPv6 address is refused',
    data: text('PROXY TCP4 ::1 10.0.0.1 1 2\r\n'),
    reason: /source "::1" is not an IPv4 address/,
  },
  {
    name: 'a v1 TCP6 line with an IPv4 address is refused',
    data: text('PROXY TCP6 ::1 10.0.0.1 1 2\r\n'),
    reason: /destination "10.0.0.1" is not an IPv6 address/,
  },
  {
    name: 'a v1 IPv4 address with a leading zero is refused',
    data: text('PROXY TCP4 010.0.0.1 10.0.0.1 1 2\r\n'),
    reason: /not an IPv4 address/,
  },
  {
    name: 'a v1 IPv6 address with a zone id is refused',
    data: text('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'),
    reason: /not an IPv6 address/,
  },
  {
    name: 'a v1 hostname is refused',
    data: text('PROXY TCP4 lb.example 10.0.0.1 1 2\r\n'),
    reason: /not an IPv4 address/,
  },
  {
    name: 'a v1 port above 65535 is refused',
    data: text('PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n'),
    reason: /source port "65536"/,
  },
  {
    name: 'a v1 port with a leading zero is refused',
    data: text('PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n'),
    reason: /destination port "080"/,
  },
  {
    name: 'a v1 line missing a field is refused',
    data: text('PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n'),
    reason: /4 space-separated fields/,
  },
  {
    name: 'a v1 line with a double space is refused',
    data: text('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'),
    reason: /4 space-separated fields/,
  },
  {
    name: 'a v2 signature with one wrong byte is refused',
    data: Buffer.concat([
      Buffer.from('0d0a0d0a000d0a515549540b', 'hex'),
      Buffer.from([0x21, 0x11, 0, 12]),
      INET_BLOCK,
    ]),
    reason: /does not start with a PROXY protocol header/,
  },
  {
    name: 'a v2 header of version 1 is refused',
    data: v2(0x11, 0x11, INET_BLOCK),
    reason: /version 1 is not 2/,
  },
  {
    name: 'a v2 header of version 3 is refused',
    data: v2(0x31, 0x11, INET_BLOCK),
    reason: /version 3 is not 2/,
  },
  {
    name: 'a v2 command other than LOCAL or PROXY is refused',
    data: v2(0x22, 0x11, INET_BLOCK),
    reason: /command 2 is not LOCAL or PROXY/,
  },
  {
    name: 'a v2 family byte outside the specification is refused',
    data: v2(0x21, 0x41, INET_BLOCK),
    reason: /family\/transport byte 0x41/,
  },
  {
    name: 'a v2 transport nibble outside the specification is refused',
    data: v2(0x21, 0x13, INET_BLOCK),
    reason: /byte 0x13/,
  },
  {
    name: 'a v2 length shorter than the IPv4 address block is refused',
    data: v2(0x21, 0x11, INET_BLOCK.subarray(0, 4)),
    reason: /length 4 is shorter than the 12-byte address block/,
  },
  {
    name: 'a v2 length shorter than the IPv6 address block is refused',
    data: v2(0x21, 0x21, INET_BLOCK),
    reason: /length 12 is shorter than the 36-byte address block/,
  },
  {
    name: `a v2 header longer than ${MAX_V2_HEADER_BYTES} bytes is refused before its body arrives`,
    data: v2(0x21, 0x11, INET_BLOCK, MAX_V2_HEADER_BYTES - 16 + 1),
    reason: /4097 bytes is longer than the 4096 accepted/,
  },
];

/** Feeds `data` one byte at a time; returns the first outcome that is not `more` and the bytes used. */
function byteByByte(data: Buffer): { progress: ProxyHeaderProgress; used: number } {
  const reader = new ProxyHeaderReader();
  for (let i = 0; i < data.length; i++) {
    const progress = reader.push(data.subarray(i, i + 1));
    if (progress.state !== 'more') return { progress, used: i + 1 };
  }
  return { progress: { state: 'more' }, used: data.length };
}

describe('valid PROXY headers', () => {
  for (const c of valid) {
    test(`${c.name}; the bytes after it are the stream`, () => {
      const got = parseProxyHeader(Buffer.concat([c.header, REQUEST]));
      assert.equal(got.state, 'done');
      if (got.state !== 'done') return;
      assert.deepEqual(got.header, c.want);
      assert.equal(got.headerBytes, c.header.length);
      assert.deepEqual(got.rest, REQUEST);
    });
    test(`${c.name}, also when it arrives one byte at a time`, () => {
      const { progress, used } = byteByByte(Buffer.concat([c.header, REQUEST]));
      assert.equal(progress.state, 'done');
      if (progress.state !== 'done') return;
      assert.deepEqual(progress.header, c.want);
      // Done on the header's last byte, never later: nothing of the stream was swallowed.
      assert.equal(used, c.header.length);
      assert.equal(progress.rest.length, 0);
    });
  }
});

describe('malformed PROXY headers', () => {
  for (const c of invalid) {
    test(c.name, () => {
      const got = parseProxyHeader(c.data);
      assert.equal(got.state, 'error');
      if (got.state === 'error') assert.match(got.reason, c.reason);
    });
    test(`${c.name}, also one byte at a time, with the same reason`, () => {
      const whole = parseProxyHeader(c.data);
      const { progress } = byteByByte(c.data);
      assert.deepEqual(progress, whole);
    });
  }
});

describe('incomplete headers and the reader', () => {
  const prefixes = [
    { name: 'nothing yet', data: Buffer.alloc(0) },
    { name: 'part of the v1 keyword', data: text('PRO') },
    { name: 'a v1 line without its CRLF', data: text('PROXY TCP4 203.0.113.7 10.0.0.1 5555 80') },
    { name: 'the v2 signature alone', data: SIGNATURE },
    { name: 'a v2 header missing its last address byte', data: v2(0x21, 0x11, INET_BLOCK).subarray(0, 27) },
  ];
  for (const c of prefixes) {
    test(`${c.name} asks for more bytes`, () => {
      assert.deepEqual(parseProxyHeader(c.data), { state: 'more' });
    });
  }

  test('a v2 header split into two chunks at every position reads the same, and no stream byte is lost', () => {
    const whole = Buffer.concat([
      v2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlv(0x02, text('a.test'))])),
      REQUEST,
    ]);
    for (let cut = 1; cut < whole.length; cut++) {
      const reader = new ProxyHeaderReader();
      const first = reader.push(whole.subarray(0, cut));
      const got = first.state === 'more' ? reader.push(whole.subarray(cut)) : first;
      assert.equal(got.state, 'done', `cut at ${cut}`);
      if (got.state !== 'done') return;
      assert.deepEqual(got.header, tcp4(2, 5555, 443));
      // Decided on the first chunk: the second one is the stream's, never pushed to the reader.
      const stream = first.state === 'more' ? got.rest : Buffer.concat([got.rest, whole.subarray(cut)]);
      assert.deepEqual(stream, REQUEST, `cut at ${cut}`);
    }
  });

  test('the reader holds at most the bytes of an incomplete header', () => {
    const reader = new ProxyHeaderReader();
    reader.push(text('PROXY TCP4 '));
    assert.equal(reader.buffered, 11);
    reader.push(text('203.0.113.7 10.0.0.1 5555 80\r\n'));
    assert.equal(reader.buffered, 0);
  });

  test('once decided, the reader keeps its answer whatever comes next', () => {
    const reader = new ProxyHeaderReader();
    const done = reader.push(text('PROXY UNKNOWN\r\nabc'));
    assert.equal(done.state, 'done');
    assert.deepEqual(reader.push(text('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), done);
    const refused = new ProxyHeaderReader();
    const error = refused.push(text('GET'));
    assert.deepEqual(refused.push(text('PROXY UNKNOWN\r\n')), error);
  });
});
