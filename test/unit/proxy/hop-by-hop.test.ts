import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildResponseHeaders, connectionTokens, isHopByHop } from '../../../src/proxy/hop-by-hop.js';

const tokenCases = [
  { name: 'no Connection header names nothing', value: undefined, want: undefined },
  { name: 'keep-alive names nothing', value: 'keep-alive', want: undefined },
  { name: 'close names nothing', value: 'Close', want: undefined },
  { name: 'upgrade names nothing', value: 'Upgrade', want: undefined },
  { name: 'listed headers are lowercased', value: 'keep-alive, X-Secret, Foo', want: ['x-secret', 'foo'] },
  {
    name: 'Host and Content-Length cannot be removed this way',
    value: 'host, content-length, x-a',
    want: ['x-a'],
  },
  { name: 'empty items are ignored', value: ' , x-a ,, ', want: ['x-a'] },
] as const;

for (const c of tokenCases) {
  test(`connectionTokens: ${c.name}`, () => {
    const got = connectionTokens(c.value);
    assert.deepEqual(got === undefined ? undefined : [...got], c.want);
  });
}

const hopCases = [
  { name: 'connection', header: 'connection', want: true },
  { name: 'keep-alive', header: 'keep-alive', want: true },
  { name: 'proxy-connection', header: 'proxy-connection', want: true },
  { name: 'te (even "trailers")', header: 'te', want: true },
  { name: 'transfer-encoding', header: 'transfer-encoding', want: true },
  { name: 'upgrade', header: 'upgrade', want: true },
  { name: 'proxy-authorization', header: 'proxy-authorization', want: true },
  { name: 'proxy-authenticate', header: 'proxy-authenticate', want: true },
  { name: 'trailer', header: 'trailer', want: true },
  { name: 'content-length is end-to-end', header: 'content-length', want: false },
  { name: 'authorization is end-to-end', header: 'authorization', want: false },
  { name: 'cookie is end-to-end', header: 'cookie', want: false },
] as const;

for (const c of hopCases) {
  test(`isHopByHop: ${c.name} → ${c.want}`, () => {
    assert.equal(isHopByHop(c.header, undefined), c.want);
  });
}

test('isHopByHop: a header named by Connection is hop-by-hop', () => {
  assert.equal(isHopByHop('x-secret', new Set(['x-secret'])), true);
  assert.equal(isHopByHop('x-other', new Set(['x-secret'])), false);
});

function pairs(list: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i] as string, list[i + 1] as string]);
  return out;
}

test('buildResponseHeaders strips hop-by-hop and Connection-named headers, replaces Server, keeps Content-Length and duplicates', () => {
  const raw = [
    'Content-Length',
    '5',
    'Connection',
    'keep-alive, X-Hop',
    'Keep-Alive',
    'timeout=5',
    'X-Hop',
    'secret',
    'Transfer-Encoding',
    'chunked',
    'Server',
    'nginx/1.0',
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
    'Trailer',
    'X-Checksum',
  ].map((s) => Buffer.from(s));
  const got = pairs(buildResponseHeaders(raw, { requestId: 'rid', closeConnection: false }));
  assert.deepEqual(got, [
    ['Content-Length', '5'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['server', 'portico'],
    ['x-request-id', 'rid'],
  ]);
});

test("buildResponseHeaders keeps the upstream's own X-Request-ID and adds Connection: close while draining", () => {
  const raw = ['X-Request-ID', 'up'].map((s) => Buffer.from(s));
  const got = pairs(buildResponseHeaders(raw, { requestId: 'rid', closeConnection: true }));
  assert.deepEqual(got, [
    ['X-Request-ID', 'up'],
    ['server', 'portico'],
    ['connection', 'close'],
  ]);
});

test('buildResponseHeaders keeps non-ASCII header bytes intact (latin1 round trip)', () => {
  const raw = [Buffer.from('Content-Disposition'), Buffer.from([0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])];
  const got = buildResponseHeaders(raw, { requestId: 'rid', closeConnection: false });
  assert.deepEqual(
    Buffer.from(got[1] as string, 'latin1'),
    Buffer.from([0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]),
  );
});
