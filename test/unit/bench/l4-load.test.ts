import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTcpCounters, parseWrkSummary } from '../../../bench/lib/l4-load.js';

// wrk 4.1's plain summary (no --latency), as bench/l4-throughput.ts runs it.
const bulk = `Running 5s test @ http://10.77.10.2:9000/bulk.bin
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    33.56ms   10.34ms  70.12ms   72.00%
    Req/Sec    49.50     12.02    70.00     70.00%
  198 requests in 5.01s, 6.19GB read
Requests/sec:     39.52
Transfer/sec:      1.24GB
`;
const connects = `Running 5s test @ http://10.77.0.1:9100/
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    0.90ms  20.01ms   90.00%
    Req/Sec     5.02k   400.00     6.00k    70.00%
  50171 requests in 5.00s, 11.68MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:  10034.20
Transfer/sec:      2.34MB
`;

describe('wrk summary with the bytes read', () => {
  const cases = [
    {
      name: 'a bulk run counts its bytes in binary units and its duration in seconds',
      out: bulk,
      expected: { requests: 198, seconds: 5.01, bytes: 6.19 * 1024 ** 3, rps: 39.52, errors: 0 },
    },
    {
      name: 'a connect run adds socket errors, timeouts and non-2xx answers into errors',
      out: connects,
      expected: { requests: 50171, seconds: 5, bytes: 11.68 * 1024 ** 2, rps: 10034.2, errors: 11 },
    },
    {
      name: 'a run shorter than a second is read in milliseconds',
      out: '  12 requests in 900.00ms, 512.00B read\nRequests/sec:     13.33\n',
      expected: { requests: 12, seconds: 0.9, bytes: 512, rps: 13.33, errors: 0 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseWrkSummary(c.out);
      assert.equal(got.requests, c.expected.requests);
      assert.ok(Math.abs(got.seconds - c.expected.seconds) < 1e-9, `seconds ${got.seconds}`);
      assert.ok(Math.abs(got.bytes - c.expected.bytes) < 1, `bytes ${got.bytes}`);
      assert.equal(got.rps, c.expected.rps);
      assert.equal(got.errors, c.expected.errors);
    });
  }

  test('output without the summary lines is an error naming what it got', () => {
    assert.throws(
      () => parseWrkSummary('unable to connect to 10.77.0.1:9100 Connection refused\n'),
      /cannot parse wrk output:\nunable to connect/,
    );
  });
});

// The layout of /proc/net/snmp and /proc/net/netstat (shortened rows, same shape).
const proc = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1200
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens
Tcp: 1 200 120000 -1 3105 7
Udp: InDatagrams NoPorts
Udp: 0 0
TcpExt: SyncookiesSent TW PAWSTimewait TCPSynRetrans
TcpExt: 0 219885 1103 1083
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
`;

describe('kernel TCP counters of a namespace', () => {
  const counters = parseTcpCounters(proc);
  const cases = [
    { name: 'a TcpExt counter is read under its group', key: 'TcpExt:PAWSTimewait', expected: 1103 },
    { name: 'the last counter of a row is read', key: 'TcpExt:TCPSynRetrans', expected: 1083 },
    { name: 'a negative value (MaxConn) is read as such', key: 'Tcp:MaxConn', expected: -1 },
    { name: 'groups of both files are read alike', key: 'IpExt:InNoRoutes', expected: 0 },
    { name: 'a header is never read as a value', key: 'TcpExt:TcpExt:', expected: undefined },
    { name: 'a counter absent from the text is absent', key: 'TcpExt:TWRecycled', expected: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(counters.get(c.key), c.expected);
    });
  }
});
