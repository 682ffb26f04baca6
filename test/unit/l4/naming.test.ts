import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  base32,
  endpointChainName,
  nftEndpointChainName,
  nftServiceChainName,
  serviceChainName,
} from '../../../src/l4/naming.js';
import { ep, svc } from '../../support/l4-fixtures.js';

// The expected hashes are the ones in kube-proxy's own tests (pkg/proxy/iptables/proxier_test.go,
// pkg/proxy/nftables/proxier_test.go) for the same service and endpoints: only the prefix differs.
const svc1 = svc('ns1/svc1:p80/TCP', 80, []);
const cases = [
  {
    name: 'the service chain hashes "ns/svc:port" + lower-case protocol as kube-proxy (KUBE-SVC-XPGD46QRK7WJZT7O)',
    got: () => serviceChainName(svc1),
    want: 'PORTICO-SVC-XPGD46QRK7WJZT7O',
  },
  {
    name: 'the endpoint chain also hashes "ip:port" as kube-proxy (KUBE-SEP-SXIVWICOYRO3J4NJ)',
    got: () => endpointChainName(svc1, ep('10.180.0.1', 80)),
    want: 'PORTICO-SEP-SXIVWICOYRO3J4NJ',
  },
  {
    name: 'a second endpoint of the same service gets its own chain (KUBE-SEP-LXVODXWDISEETFEF)',
    got: () => endpointChainName(svc1, ep('10.180.0.2', 80)),
    want: 'PORTICO-SEP-LXVODXWDISEETFEF',
  },
  {
    name: "the nft service chain is kube-proxy's 8-character hash then the readable name",
    got: () => nftServiceChainName(svc1),
    want: 'service-ULMVA6XW-ns1/svc1/tcp/p80',
  },
  {
    name: 'the nft endpoint chain appends "__ip/port" as kube-proxy',
    got: () => nftEndpointChainName(svc1, ep('10.180.0.1', 80)),
    want: 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80',
  },
  {
    name: 'an IPv6 endpoint has its colons turned into dots in nft chain names (colons are not allowed)',
    got: () => nftEndpointChainName(svc1, ep('fd00::1', 80)).replace(/^endpoint-\w{8}-/, ''),
    want: 'ns1/svc1/tcp/p80__fd00..1/80',
  },
  {
    name: 'base32 follows RFC 4648 ("foobar" → MZXW6YTBOI)',
    got: () => base32(Buffer.from('foobar')),
    want: 'MZXW6YTBOI',
  },
  {
    name: 'base32 of one byte pads the last group with zero bits ("f" → MY)',
    got: () => base32(Buffer.from('f')),
    want: 'MY',
  },
] as const;

for (const c of cases) {
  test(c.name, () => {
    assert.equal(c.got(), c.want);
  });
}

test('iptables chain names stay within the 28-character limit', () => {
  const long = svc(`${'n'.repeat(63)}/${'s'.repeat(63)}:${'p'.repeat(15)}/UDP`, 1, []);
  assert.ok(serviceChainName(long).length <= 28);
  assert.ok(endpointChainName(long, ep('fd00:1:2:3:4:5:6:7', 65535)).length <= 28);
});

test('the protocol is part of the hash: TCP and UDP on one service port get different chains', () => {
  assert.notEqual(
    serviceChainName(svc('dns/coredns:53/TCP', 53, [])),
    serviceChainName(svc('dns/coredns:53/UDP', 53, [])),
  );
});
