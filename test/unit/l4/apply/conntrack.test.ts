import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  conntrackDeleteArgs,
  deleteStaleUdpFlows,
  staleUdpFlows,
} from '../../../../src/l4/apply/conntrack.js';
import type { L4State } from '../../../../src/l4/model.js';
import { ep, svc } from '../../../support/l4-fixtures.js';

const nodeIp = '192.168.50.10';
const udp = (...addresses: string[]) =>
  svc(
    'games/quake:27960/UDP',
    27960,
    addresses.map((a) => ep(a, 27960)),
  );
const tcp = (...addresses: string[]) =>
  svc(
    'db/pg:5432/TCP',
    5432,
    addresses.map((a) => ep(a, 5432)),
  );
const state = (...services: L4State['services']): L4State => ({ nodeIp, services });

const cases = [
  {
    name: 'a removed UDP endpoint has its flows deleted',
    previous: state(udp('10.0.0.1', '10.0.0.2')),
    current: state(udp('10.0.0.1')),
    want: [{ listenPort: 27960, endpointAddress: '10.0.0.2', nodeIp }],
  },
  {
    name: 'a UDP service going from no endpoints to some has every flow to its port deleted',
    previous: state(udp()),
    current: state(udp('10.0.0.1')),
    want: [{ listenPort: 27960, nodeIp }],
  },
  {
    name: 'a new UDP service counts as going from no endpoints to some',
    previous: state(),
    current: state(udp('10.0.0.1')),
    want: [{ listenPort: 27960, nodeIp }],
  },
  {
    name: 'an added UDP endpoint leaves existing flows alone',
    previous: state(udp('10.0.0.1')),
    current: state(udp('10.0.0.1', '10.0.0.2')),
    want: [],
  },
  {
    name: 'a deleted UDP service has the flows to each of its endpoints deleted',
    previous: state(udp('10.0.0.1')),
    current: state(),
    want: [{ listenPort: 27960, endpointAddress: '10.0.0.1', nodeIp }],
  },
  {
    name: 'TCP endpoints are never cleaned (a new connection is a new flow)',
    previous: state(tcp('10.0.0.1', '10.0.0.2')),
    current: state(tcp('10.0.0.1')),
    want: [],
  },
] as const;

for (const c of cases) test(c.name, () => assert.deepEqual(staleUdpFlows(c.previous, c.current), c.want));

test('the conntrack command matches the service address, port and the endpoint answering', () => {
  assert.deepEqual(conntrackDeleteArgs({ listenPort: 53, nodeIp, endpointAddress: '10.0.0.2' }), [
    'conntrack',
    '-D',
    '-p',
    'udp',
    '--orig-dst',
    nodeIp,
    '--dport',
    '53',
    '--reply-src',
    '10.0.0.2',
  ]);
  assert.deepEqual(conntrackDeleteArgs({ listenPort: 53, endpointAddress: 'fd00::2' }), [
    'conntrack',
    '-D',
    '-f',
    'ipv6',
    '-p',
    'udp',
    '--dport',
    '53',
    '--reply-src',
    'fd00::2',
  ]);
});

test('"0 flow entries have been deleted" is success; other failures are returned, not thrown', async () => {
  const answers = [
    {
      code: 1,
      stdout: '',
      stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n',
    },
    { code: 1, stdout: '', stderr: 'conntrack v1.4.7: Operation not permitted\n' },
  ];
  const failures = await deleteStaleUdpFlows(
    async () => answers.shift()!,
    [{ listenPort: 1 }, { listenPort: 2 }],
  );
  assert.deepEqual(failures, [
    {
      argv: ['conntrack', '-D', '-p', 'udp', '--dport', '2'],
      stderr: 'conntrack v1.4.7: Operation not permitted',
    },
  ]);
});
