import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import {
  buildUpstreamHeaders,
  clientAddress,
  compileTrust,
  type ForwardContext,
  generateRequestId,
  peerAddress,
  setProxiedPeer,
} from '../../../src/proxy/forwarded-headers.js';

const untrusted: ForwardContext = {
  peer: '10.0.0.9',
  trusted: false,
  proto: 'http',
  localPort: 8080,
  requestId: 'gen-id',
};
const trusted: ForwardContext = { ...untrusted, trusted: true };

function headerMap(list: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    out.set(name, [...(out.get(name) ?? []), list[i + 1] as string]);
  }
  return out;
}

const spoofed = [
  'Host',
  'shop.example:8080',
  'X-Forwarded-For',
  '6.6.6.6',
  'X-Forwarded-For',
  '7.7.7.7',
  'X-Real-IP',
  '6.6.6.6',
  'X-Forwarded-Proto',
  'https',
  'X-Forwarded-Host',
  'evil.example',
  'X-Forwarded-Port',
  '443',
  'Forwarded',
  'for=6.6.6.6',
  'SSL-Client-Verify',
  'SUCCESS',
  'ssl-client-subject-dn',
  'CN=admin',
  'Accept',
  'text/html',
];

type Want = Record<string, string[] | undefined>;

const cases: readonly { name: string; raw: string[]; ctx: ForwardContext; want: Want }[] = [
  {
    name: 'an untrusted peer gets every forwarding header overwritten and Forwarded/ssl-client-* removed',
    raw: spoofed,
    ctx: untrusted,
    want: {
      host: ['shop.example:8080'],
      'x-forwarded-for': ['10.0.0.9'],
      'x-real-ip': ['10.0.0.9'],
      'x-forwarded-proto': ['http'],
      'x-forwarded-host': ['shop.example:8080'],
      'x-forwarded-port': ['8080'],
      forwarded: undefined,
      'ssl-client-verify': undefined,
      'ssl-client-subject-dn': undefined,
      accept: ['text/html'],
      'x-request-id': ['gen-id'],
    },
  },
  {
    name: 'a trusted peer is appended to X-Forwarded-For and the other headers are kept, but never ssl-client-*',
    raw: spoofed,
    ctx: trusted,
    want: {
      'x-forwarded-for': ['6.6.6.6, 7.7.7.7, 10.0.0.9'],
      'x-real-ip': ['6.6.6.6'],
      'x-forwarded-proto': ['https'],
      'x-forwarded-host': ['evil.example'],
      'x-forwarded-port': ['443'],
      forwarded: ['for=6.6.6.6'],
      'ssl-client-verify': undefined,
      'ssl-client-subject-dn': undefined,
    },
  },
  {
    name: 'a trusted peer without forwarding headers gets them set',
    raw: ['Host', 'a.example'],
    ctx: trusted,
    want: {
      'x-forwarded-for': ['10.0.0.9'],
      'x-real-ip': ['10.0.0.9'],
      'x-forwarded-proto': ['http'],
      'x-forwarded-host': ['a.example'],
      'x-forwarded-port': ['8080'],
    },
  },
  {
    name: 'an incoming X-Request-ID is kept',
    raw: ['Host', 'a', 'X-Request-ID', 'client-id'],
    ctx: untrusted,
    want: { 'x-request-id': ['client-id'] },
  },
  {
    name: 'hop-by-hop headers and the ones Connection names are stripped, Expect too',
    raw: [
      'Host',
      'a',
      'Connection',
      'keep-alive, X-Private',
      'X-Private',
      'secret',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'keep-alive',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Proxy-Authorization',
      'Basic Zm9vOmJhcg==',
      'Expect',
      '100-continue',
      'Authorization',
      'Bearer x',
    ],
    ctx: untrusted,
    want: {
      connection: undefined,
      'x-private': undefined,
      'keep-alive': undefined,
      'proxy-connection': undefined,
      te: undefined,
      upgrade: undefined,
      'proxy-authorization': undefined,
      expect: undefined,
      authorization: ['Bearer x'],
    },
  },
  {
    name: 'Connection cannot strip the X-Forwarded-For Portico sets',
    raw: ['Host', 'a', 'Connection', 'X-Forwarded-For', 'X-Forwarded-For', '1.1.1.1'],
    ctx: trusted,
    want: { 'x-forwarded-for': ['10.0.0.9'] },
  },
  {
    name: 'an upgrade keeps its Upgrade value and says Connection: upgrade',
    raw: ['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'],
    ctx: { ...untrusted, upgrade: 'websocket' },
    want: { connection: ['upgrade'], upgrade: ['websocket'], 'sec-websocket-key': ['k'] },
  },
];

for (const c of cases) {
  test(`buildUpstreamHeaders: ${c.name}`, () => {
    const got = headerMap(buildUpstreamHeaders(c.raw, c.ctx).headers);
    for (const [name, want] of Object.entries(c.want)) assert.deepEqual(got.get(name), want, name);
  });
}

test('buildUpstreamHeaders reports a duplicate Host and the request ID used', () => {
  const dup = buildUpstreamHeaders(['Host', 'a', 'host', 'b'], untrusted);
  assert.equal(dup.duplicateHost, true);
  assert.equal(dup.host, 'a');
  assert.equal(dup.requestId, 'gen-id');
  assert.equal(buildUpstreamHeaders(['X-Request-Id', 'mine'], untrusted).requestId, 'mine');
});

const trustCases = [
  {
    name: 'an address inside a trusted CIDR is trusted',
    cidrs: ['127.0.0.2/32'],
    address: '127.0.0.2',
    want: true,
  },
  { name: 'an address outside is not', cidrs: ['127.0.0.2/32'], address: '127.0.0.3', want: false },
  {
    name: 'an IPv4-mapped IPv6 peer matches an IPv4 CIDR',
    cidrs: ['10.0.0.0/8'],
    address: '::ffff:10.1.2.3',
    want: true,
  },
  { name: 'IPv6 CIDRs work', cidrs: ['fd00::/8'], address: 'fd00::1', want: true },
  { name: 'an empty list trusts nobody', cidrs: [], address: '127.0.0.1', want: false },
  { name: 'an empty address is never trusted', cidrs: ['0.0.0.0/0'], address: '', want: false },
] as const;

for (const c of trustCases) {
  test(`compileTrust: ${c.name}`, () => {
    assert.equal(compileTrust(c.cidrs)(c.address), c.want);
  });
}

test('compileTrust throws at startup on an invalid CIDR', () => {
  assert.throws(() => compileTrust(['not-an-ip']));
});

test('clientAddress renders IPv4-mapped IPv6 as IPv4 and keeps real IPv6', () => {
  assert.equal(clientAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(clientAddress('::1'), '::1');
  assert.equal(clientAddress(undefined), '');
});

// Stand-ins for the sockets a request can carry: the accepted one, the TLSSocket node:tls builds
// over it (`_parent`), and node:http2's proxy of that TLSSocket, which forwards property reads.
const accepted = (remoteAddress: string) => ({ remoteAddress }) as unknown as Socket;
const over = (parent: Socket) => ({ remoteAddress: '127.0.0.1', _parent: parent }) as unknown as Socket;
const proxied = accepted('::ffff:127.0.0.1');
setProxiedPeer(proxied, '203.0.113.7');
const h2View = (tls: Socket) =>
  new Proxy({}, { get: (_t, prop) => Reflect.get(tls, prop) }) as unknown as Socket;
const peerCases = [
  {
    name: 'without a PROXY header, the TCP peer in clientAddress form',
    socket: accepted('::ffff:10.0.0.9'),
    want: '10.0.0.9',
  },
  { name: 'with a PROXY header, its source address', socket: proxied, want: '203.0.113.7' },
  {
    name: 'on the TLSSocket over a proxied connection, the PROXY source',
    socket: over(proxied),
    want: '203.0.113.7',
  },
  {
    name: 'through the HTTP/2 socket proxy, the PROXY source',
    socket: h2View(over(proxied)),
    want: '203.0.113.7',
  },
  {
    name: 'on a TLSSocket over an unproxied connection, its own peer',
    socket: over(accepted('10.0.0.9')),
    want: '127.0.0.1',
  },
  { name: 'without a socket, the empty address', socket: undefined, want: '' },
];
for (const c of peerCases) {
  test(`peerAddress: ${c.name}`, () => {
    assert.equal(peerAddress(c.socket), c.want);
  });
}

test('generateRequestId returns distinct 32-hex IDs', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => generateRequestId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
});

test('compileTrust: 0.0.0.0/0 and ::/0 trust every address', () => {
  const all = compileTrust(['0.0.0.0/0', '::/0']);
  for (const address of ['1.2.3.4', '255.255.255.255', '::1', 'ffff::1', '::ffff:8.8.8.8'])
    assert.equal(all(address), true, address);
});
