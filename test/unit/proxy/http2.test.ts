import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { http2RequestView } from '../../../src/proxy/http2.js';

const PSEUDO = [':method', 'GET', ':path', '/p?q=1', ':scheme', 'https'];

describe('http2RequestView', () => {
  const cases = [
    {
      name: 'pseudo-headers dropped, :authority becomes Host, first',
      raw: [...PSEUDO, ':authority', 'a.test', 'accept', '*/*'],
      want: { rawHeaders: ['host', 'a.test', 'accept', '*/*'], host: 'a.test', conflictingHost: false },
    },
    {
      name: 'no :authority: the Host header is the authority',
      raw: [...PSEUDO, 'host', 'b.test:8443', 'x-a', '1'],
      want: { rawHeaders: ['host', 'b.test:8443', 'x-a', '1'], host: 'b.test:8443', conflictingHost: false },
    },
    {
      name: 'a Host equal to :authority (any case) is kept once',
      raw: [...PSEUDO, ':authority', 'a.test', 'host', 'A.TEST'],
      want: { rawHeaders: ['host', 'a.test'], host: 'a.test', conflictingHost: false },
    },
    {
      name: 'a Host differing from :authority is a conflict',
      raw: [...PSEUDO, ':authority', 'a.test', 'host', 'evil.test'],
      want: { rawHeaders: ['host', 'a.test'], host: 'a.test', conflictingHost: true },
    },
    {
      name: 'two Host headers are a conflict',
      raw: [...PSEUDO, 'host', 'a.test', 'host', 'b.test'],
      want: { rawHeaders: ['host', 'a.test'], host: 'a.test', conflictingHost: true },
    },
    {
      name: 'split cookies are joined with "; " (RFC 9113 §8.2.3)',
      raw: [...PSEUDO, ':authority', 'a.test', 'cookie', 'a=1', 'x', 'y', 'cookie', 'b=2'],
      want: {
        rawHeaders: ['host', 'a.test', 'x', 'y', 'cookie', 'a=1; b=2'],
        host: 'a.test',
        conflictingHost: false,
      },
    },
    {
      name: 'neither :authority nor Host',
      raw: [...PSEUDO, 'accept', '*/*'],
      want: { rawHeaders: ['accept', '*/*'], host: undefined, conflictingHost: false },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(http2RequestView(c.raw), c.want);
    });
  }
});
