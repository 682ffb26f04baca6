import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  diffIpvs,
  formatIpvsTable,
  type IpvsVirtualServer,
  parseIpvsSave,
  renderIpvs,
} from '../../../src/l4/render/ipvs.js';
import { ep, nodeIp, svc } from '../../support/l4-fixtures.js';

// As `ipvsadm-save -n` prints a table (one foreign service on another address, kept by the diff).
const live = `-A -t 192.168.50.10:5432 -s rr
-a -t 192.168.50.10:5432 -r 10.244.1.5:5432 -m -w 1
-a -t 192.168.50.10:5432 -r 10.244.2.7:5432 -m -w 1
-A -u 192.168.50.10:53 -s rr
-a -u 192.168.50.10:53 -r 10.244.0.10:53 -m -w 1
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
`;

test('ipvsadm-save -n output is read into virtual and real servers', () => {
  const { virtualServers, problems } = parseIpvsSave(live);
  assert.deepEqual(problems, []);
  assert.equal(virtualServers.length, 3);
  assert.deepEqual(virtualServers[0], {
    protocol: '-t',
    address: '192.168.50.10:5432',
    scheduler: 'rr',
    reals: [
      { address: '10.244.1.5:5432', forwarding: '-m', weight: 1 },
      { address: '10.244.2.7:5432', forwarding: '-m', weight: 1 },
    ],
  });
});

test('the rendered table reads back unchanged (format and parse agree)', () => {
  const render = renderIpvs({
    nodeIp: 'fd00::10',
    ipFamily: 'IPv6',
    services: [svc('db/pg:5432/TCP', 5432, [ep('fd00::1', 5432), ep('fd00::2', 5432)], { scheduler: 'sh' })],
  });
  assert.deepEqual(parseIpvsSave(render.payload).virtualServers, render.virtualServers);
});

test('lines Portico cannot read are reported with their number, not thrown', () => {
  const { problems } = parseIpvsSave('-A -f 1 -s rr\n-a -t 1.2.3.4:80 -r 10.0.0.1:80 -m -w 1\n');
  assert.deepEqual(
    problems.map((p) => [p.line, p.reason]),
    [
      [1, 'not a TCP or UDP service line (-t/-u address)'],
      [2, 'real server of -t 1.2.3.4:80, which was not declared before'],
    ],
  );
});

const liveServers = parseIpvsSave(live).virtualServers;
const pg = (addresses: string[], scheduler: 'rr' | 'lc' = 'rr') =>
  svc(
    'db/pg:5432/TCP',
    5432,
    addresses.map((a) => ep(a, 5432)),
    { scheduler },
  );
const dns = svc('dns/coredns:dns/UDP', 53, [ep('10.244.0.10', 53)]);
const desired = (...services: ReturnType<typeof svc>[]): IpvsVirtualServer[] => [
  ...renderIpvs({ nodeIp, services }).virtualServers,
];

const diffs = [
  {
    name: 'an identical table needs no command',
    want: desired(pg(['10.244.1.5', '10.244.2.7']), dns),
    commands: [],
  },
  {
    name: 'a replaced endpoint is one real-server delete and one add',
    want: desired(pg(['10.244.1.5', '10.244.3.1']), dns),
    commands: [
      '-d -t 192.168.50.10:5432 -r 10.244.2.7:5432',
      '-a -t 192.168.50.10:5432 -r 10.244.3.1:5432 -m -w 1',
    ],
  },
  {
    name: 'a scheduler change edits the virtual server in place (-E), keeping its connections',
    want: desired(pg(['10.244.1.5', '10.244.2.7'], 'lc'), dns),
    commands: ['-E -t 192.168.50.10:5432 -s lc'],
  },
  {
    name: 'a removed service is deleted, and a service on an address that is not ours is kept',
    want: desired(pg(['10.244.1.5', '10.244.2.7'])),
    commands: ['-D -u 192.168.50.10:53'],
  },
  {
    name: 'a new service is added with all its real servers',
    want: desired(
      pg(['10.244.1.5', '10.244.2.7']),
      dns,
      svc('iot/mqtt:1883/TCP', 1883, [ep('10.244.2.2', 1883)]),
    ),
    commands: ['-A -t 192.168.50.10:1883 -s rr', '-a -t 192.168.50.10:1883 -r 10.244.2.2:1883 -m -w 1'],
  },
  {
    name: 'with nothing desired, every service on the node address is deleted (and only those)',
    want: [],
    commands: ['-D -t 192.168.50.10:5432', '-D -u 192.168.50.10:53'],
  },
] as const;

for (const c of diffs) {
  test(c.name, () => {
    assert.deepEqual(diffIpvs(liveServers, c.want, { nodeIp }), c.commands);
  });
}

test('a real server whose weight differs is edited (-e), not re-added', () => {
  const heavier = parseIpvsSave(
    live.replace('10.244.2.7:5432 -m -w 1', '10.244.2.7:5432 -m -w 5'),
  ).virtualServers;
  assert.deepEqual(diffIpvs(heavier, desired(pg(['10.244.1.5', '10.244.2.7']), dns), { nodeIp }), [
    '-e -t 192.168.50.10:5432 -r 10.244.2.7:5432 -m -w 1',
  ]);
});

test('applying the diff to the live table gives the desired table (checked by replaying it on the parsed text)', () => {
  const want = desired(pg(['10.244.3.1'], 'lc'), svc('iot/mqtt:1883/TCP', 1883, [ep('10.244.2.2', 1883)]));
  const replayed = replay(liveServers, diffIpvs(liveServers, want, { nodeIp }));
  assert.equal(
    formatIpvsTable(replayed.filter((vs) => vs.address.startsWith(nodeIp)).sort(byKey)),
    formatIpvsTable([...want].sort(byKey)),
  );
});

function byKey(a: IpvsVirtualServer, b: IpvsVirtualServer): number {
  return `${a.protocol} ${a.address}` < `${b.protocol} ${b.address}` ? -1 : 1;
}

/** A tiny ipvsadm: enough of -A/-E/-D/-a/-e/-d to replay a diff. */
function replay(start: readonly IpvsVirtualServer[], commands: readonly string[]): IpvsVirtualServer[] {
  const table = new Map(start.map((vs) => [`${vs.protocol} ${vs.address}`, { ...vs, reals: [...vs.reals] }]));
  for (const command of commands) {
    const w = command.split(' ');
    const key = `${w[1]} ${w[2]}`;
    const vs = table.get(key);
    const real = w[4] ?? '';
    if (w[0] === '-A')
      table.set(key, { protocol: w[1] as '-t', address: w[2]!, scheduler: w[4]!, reals: [] });
    else if (w[0] === '-E' && vs) table.set(key, { ...vs, scheduler: w[4]! });
    else if (w[0] === '-D') table.delete(key);
    else if (w[0] === '-a' && vs) vs.reals.push({ address: real, forwarding: '-m', weight: Number(w[7]) });
    else if (w[0] === '-d' && vs) vs.reals = vs.reals.filter((r) => r.address !== real);
    else if (w[0] === '-e' && vs)
      vs.reals = vs.reals.map((r) => (r.address === real ? { ...r, weight: Number(w[7]) } : r));
    else throw new Error(`cannot replay ${command}`);
  }
  return [...table.values()].map((vs) => ({
    ...vs,
    reals: [...vs.reals].sort((a, b) => (a.address < b.address ? -1 : 1)),
  }));
}
