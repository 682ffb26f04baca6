/**
 * The ingress-nginx TCP/UDP services ConfigMap entry format, one case per rule: what is accepted
 * (with its meaning), and what is rejected with exactly which message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EntryParse, parseServicesEntry } from '../../../src/l4/config-map.js';
import type { L4Protocol } from '../../../src/l4/model.js';

const reserved = new Map([
  [80, '--http-port'],
  [443, '--https-port'],
]);

interface Case {
  readonly name: string;
  readonly key: string;
  readonly value: string;
  readonly protocol?: L4Protocol;
  readonly want: EntryParse;
}

const entry = (over: Partial<Extract<EntryParse, { ok: true }>['entry']>): EntryParse => ({
  ok: true,
  entry: {
    key: '5432',
    listenPort: 5432,
    protocol: 'TCP',
    namespace: 'db',
    service: 'postgres',
    port: 5432,
    sendProxy: false,
    warnings: [],
    ...over,
  },
});
const reject = (reason: string): EntryParse => ({ ok: false, reason });

const cases: readonly Case[] = [
  { name: 'a Service port number is accepted', key: '5432', value: 'db/postgres:5432', want: entry({}) },
  {
    name: 'a Service port name is accepted as a name',
    key: '5432',
    value: 'db/postgres:pg',
    want: entry({ port: 'pg' }),
  },
  {
    name: 'the second PROXY field sends PROXY protocol to the backend',
    key: '5432',
    value: 'db/postgres:5432::PROXY',
    want: entry({ sendProxy: true }),
  },
  {
    name: 'PROXY fields are case-insensitive, as ingress-nginx compares them',
    key: '5432',
    value: 'db/postgres:5432::proxy',
    want: entry({ sendProxy: true }),
  },
  {
    name: 'empty PROXY fields mean no PROXY protocol',
    key: '5432',
    value: 'db/postgres:5432::',
    want: entry({}),
  },
  {
    name: 'surrounding spaces in the value are ignored',
    key: '5432',
    value: ' db/postgres:5432 ',
    want: entry({}),
  },
  {
    name: 'PROXY fields of a UDP entry are ignored with a warning, as ingress-nginx ignores them',
    key: '53',
    value: 'kube-system/dns:53:PROXY:PROXY',
    protocol: 'UDP',
    want: {
      ok: true,
      entry: {
        key: '53',
        listenPort: 53,
        protocol: 'UDP',
        namespace: 'kube-system',
        service: 'dns',
        port: 53,
        sendProxy: false,
        warnings: ['PROXY fields are ignored for UDP (PROXY protocol is TCP only)'],
      },
    },
  },
  {
    name: 'the highest port is accepted',
    key: '65535',
    value: 'db/postgres:65535',
    want: entry({ key: '65535', listenPort: 65535, port: 65535 }),
  },
  {
    name: 'a key that is not a number is rejected',
    key: 'eighty',
    value: 'db/postgres:5432',
    want: reject('"eighty" is not a valid TCP port number (1-65535)'),
  },
  {
    name: 'port 0 is rejected',
    key: '0',
    value: 'db/postgres:5432',
    want: reject('"0" is not a valid TCP port number (1-65535)'),
  },
  {
    name: 'a port above 65535 is rejected',
    key: '65536',
    value: 'db/postgres:5432',
    want: reject('"65536" is not a valid TCP port number (1-65535)'),
  },
  {
    name: 'a signed or zero-padded key is rejected (ingress-nginx would read +80 as 80)',
    key: '+8080',
    value: 'db/postgres:5432',
    want: reject('"+8080" is not a valid TCP port number (1-65535)'),
  },
  {
    name: "a port of Portico's own listeners is reserved",
    key: '80',
    value: 'db/postgres:5432',
    want: reject("port 80 cannot be used for TCP stream services: it is reserved for Portico's --http-port"),
  },
  {
    name: 'reserved ports hold for UDP too, as in ingress-nginx',
    key: '443',
    value: 'db/postgres:5432',
    protocol: 'UDP',
    want: reject(
      "port 443 cannot be used for UDP stream services: it is reserved for Portico's --https-port",
    ),
  },
  {
    name: 'a value without a port is rejected',
    key: '5432',
    value: 'db/postgres',
    want: reject(
      'invalid Service reference "db/postgres": expected <namespace>/<service>:<port>[:PROXY][:PROXY]',
    ),
  },
  {
    name: 'more than four fields are rejected',
    key: '5432',
    value: 'db/postgres:5432:PROXY:PROXY:PROXY',
    want: reject(
      'invalid Service reference "db/postgres:5432:PROXY:PROXY:PROXY": 5 fields, expected at most 4 (<namespace>/<service>:<port>[:PROXY][:PROXY])',
    ),
  },
  {
    name: 'a Service without a namespace is rejected',
    key: '5432',
    value: 'postgres:5432',
    want: reject('"postgres" is not <namespace>/<service>'),
  },
  {
    name: 'a namespace that is not a DNS label is rejected',
    key: '5432',
    value: 'DB/postgres:5432',
    want: reject('"DB" is not a namespace name'),
  },
  {
    name: 'a Service name that is not a DNS-1035 label is rejected',
    key: '5432',
    value: 'db/1postgres:5432',
    want: reject('"1postgres" is not a Service name'),
  },
  {
    name: 'an empty Service port is rejected',
    key: '5432',
    value: 'db/postgres:',
    want: reject('Service port "" is neither a number nor a port name: it is empty'),
  },
  {
    name: 'a Service port number out of range is rejected',
    key: '5432',
    value: 'db/postgres:70000',
    want: reject('Service port "70000" is not a port number (1-65535)'),
  },
  {
    name: 'a port name that is not an IANA service name is rejected',
    key: '5432',
    value: 'db/postgres:Pg_1',
    want: reject(
      'Service port "Pg_1" is neither a number nor a port name: a port name has lower-case letters, digits and single inner hyphens, with at least one letter',
    ),
  },
  {
    name: 'a PROXY field with a typo is rejected instead of ignored',
    key: '5432',
    value: 'db/postgres:5432::PROXI',
    want: reject('field 4 "PROXI" must be PROXY or empty (<namespace>/<service>:<port>[:PROXY][:PROXY])'),
  },
  {
    name: 'decoding PROXY from clients (the first PROXY field) is rejected with the reason',
    key: '5432',
    value: 'db/postgres:5432:PROXY',
    want: reject(
      'decoding PROXY protocol from clients (the first PROXY field) is not supported: Portico forwards the client bytes untouched, so the header would reach the backend as data; leave the field empty (":port::PROXY" sends PROXY to the backend)',
    ),
  },
];

for (const c of cases) {
  test(c.name, () => {
    assert.deepEqual(parseServicesEntry(c.key, c.value, c.protocol ?? 'TCP', reserved), c.want);
  });
}
