import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildEndpointTable, collectBackends } from '../../../src/endpoints/slices.js';
import type { UpstreamEndpoint } from '../../../src/endpoints/types.js';
import type { EndpointSlice } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { BackendRef } from '../../../src/model/types.js';
import {
  endpointSlice,
  ingress,
  ingressClass,
  inputFrom,
  service,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';

function ref(service: string, port: number | string, servicePortName: string, ns = 'default'): BackendRef {
  return {
    key: `${ns}/${service}:${port}`,
    namespace: ns,
    service,
    port,
    target: { kind: 'endpoints', servicePortName, servicePort: 80 },
  };
}

const ip = (address: string, port: number): UpstreamEndpoint => ({ address, port, kind: 'ip' });

interface Row {
  readonly name: string;
  readonly slices: readonly EndpointSlice[];
  readonly backend: BackendRef;
  /** Expected endpoints, or undefined for "no entry at all". */
  readonly want: readonly UpstreamEndpoint[] | undefined;
}

const rows: readonly Row[] = [
  {
    name: 'ready endpoints are used and not-ready ones are skipped',
    slices: [
      endpointSlice('web-a')
        .forService('web')
        .port('http', 8080)
        .ready('10.0.0.1')
        .notReady('10.0.0.2')
        .build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [ip('10.0.0.1', 8080)],
  },
  {
    name: 'an endpoint without a ready condition counts as ready',
    slices: [endpointSlice('web-a').forService('web').port('http', 8080).unknown('10.0.0.3').build()],
    backend: ref('web', 80, 'http'),
    want: [ip('10.0.0.3', 8080)],
  },
  {
    name: 'the slice port is chosen by the Service port name',
    slices: [
      endpointSlice('web-a')
        .forService('web')
        .port('http', 8080)
        .port('metrics', 9090)
        .ready('10.0.0.1')
        .build(),
    ],
    backend: ref('web', 'metrics', 'metrics'),
    want: [ip('10.0.0.1', 9090)],
  },
  {
    name: 'an unnamed Service port matches an unnamed slice port',
    slices: [endpointSlice('web-a').forService('web').port(undefined, 8080).ready('10.0.0.1').build()],
    backend: ref('web', 80, ''),
    want: [ip('10.0.0.1', 8080)],
  },
  {
    name: "an unnamed Service port matches a slice port named ''",
    slices: [endpointSlice('web-a').forService('web').port('', 8080).ready('10.0.0.1').build()],
    backend: ref('web', 80, ''),
    want: [ip('10.0.0.1', 8080)],
  },
  {
    name: 'a slice without the wanted port name contributes nothing',
    slices: [endpointSlice('web-a').forService('web').port('http', 8080).ready('10.0.0.1').build()],
    backend: ref('web', 80, ''),
    want: [],
  },
  {
    name: 'IPv6 slices are used, addresses without brackets',
    slices: [
      endpointSlice('web-v6')
        .addressType('IPv6')
        .forService('web')
        .port('http', 8080)
        .ready('fd00::1')
        .build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [ip('fd00::1', 8080)],
  },
  {
    name: 'FQDN slices are skipped',
    slices: [
      endpointSlice('web-dns')
        .addressType('FQDN')
        .forService('web')
        .port('http', 8080)
        .ready('pod.example')
        .build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [],
  },
  {
    name: 'endpoints present in several slices are listed once',
    slices: [
      endpointSlice('web-a').forService('web').port('http', 8080).ready('10.0.0.1', '10.0.0.2').build(),
      endpointSlice('web-b').forService('web').port('http', 8080).ready('10.0.0.2').build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [ip('10.0.0.1', 8080), ip('10.0.0.2', 8080)],
  },
  {
    name: 'endpoints are sorted by address and port whatever the slice order',
    slices: [
      endpointSlice('web-b').forService('web').port('http', 8080).ready('10.0.0.9').build(),
      endpointSlice('web-a').forService('web').port('http', 8080).ready('10.0.0.10', '10.0.0.1').build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [ip('10.0.0.1', 8080), ip('10.0.0.10', 8080), ip('10.0.0.9', 8080)],
  },
  {
    name: 'the same address on different ports (per slice) is two endpoints',
    slices: [
      endpointSlice('web-a').forService('web').port('http', 8080).ready('10.0.0.1').build(),
      endpointSlice('web-b').forService('web').port('http', 8081).ready('10.0.0.1').build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [ip('10.0.0.1', 8080), ip('10.0.0.1', 8081)],
  },
  {
    name: 'slices of a Service with the same name in another namespace are ignored',
    slices: [
      endpointSlice('web-a').ns('other').forService('web').port('http', 8080).ready('10.9.9.9').build(),
    ],
    backend: ref('web', 80, 'http'),
    want: [],
  },
  {
    name: 'slices of another Service are ignored',
    slices: [endpointSlice('api-a').forService('api').port('http', 8080).ready('10.0.0.7').build()],
    backend: ref('web', 80, 'http'),
    want: [],
  },
  {
    name: 'slices without the service-name label are ignored',
    slices: [endpointSlice('web-a').port('http', 8080).ready('10.0.0.1').build()],
    backend: ref('web', 80, 'http'),
    want: [],
  },
  {
    name: 'an ExternalName backend gets one DNS endpoint',
    slices: [],
    backend: {
      key: 'default/ext:443',
      namespace: 'default',
      service: 'ext',
      port: 443,
      target: { kind: 'external-name', hostname: 'api.example.net', port: 443 },
    },
    want: [{ address: 'api.example.net', port: 443, kind: 'dns' }],
  },
  {
    name: 'a backend with a problem gets no entry',
    slices: [endpointSlice('web-a').forService('web').port('http', 8080).ready('10.0.0.1').build()],
    backend: {
      key: 'default/web:80',
      namespace: 'default',
      service: 'web',
      port: 80,
      problem: 'service "default/web" not found',
    },
    want: undefined,
  },
];

describe('endpoint table', () => {
  for (const row of rows) {
    test(row.name, () => {
      const table = buildEndpointTable(row.slices, [row.backend]);
      assert.deepEqual(table.get(row.backend.key), row.want);
      if (row.want === undefined) assert.equal(table.has(row.backend.key), false);
    });
  }

  test('two backends of one Service on different ports get their own endpoints', () => {
    const slices = [
      endpointSlice('web-a')
        .forService('web')
        .port('http', 8080)
        .port('admin', 9000)
        .ready('10.0.0.1')
        .build(),
    ];
    const table = buildEndpointTable(slices, [ref('web', 'http', 'http'), ref('web', 'admin', 'admin')]);
    assert.deepEqual(table.get('default/web:http'), [ip('10.0.0.1', 8080)]);
    assert.deepEqual(table.get('default/web:admin'), [ip('10.0.0.1', 9000)]);
  });

  test('the table and its lists are frozen', () => {
    const table = buildEndpointTable(rows[0]!.slices, [rows[0]!.backend]);
    const list = table.get(rows[0]!.backend.key);
    assert.ok(Object.isFrozen(list));
    assert.ok(Object.isFrozen(list?.[0]));
  });
});

describe('collectBackends', () => {
  test('lists route, host-default and catch-all backends once each', () => {
    const model = translate(
      inputFrom([
        ingressClass('portico').build(),
        service('web').port(80).build(),
        service('api').port(80).build(),
        service('fallback').port(80).build(),
        ingress('a')
          .cls('portico')
          .host('a.example')
          .prefix('/', svc('web', 80))
          .prefix('/api', svc('api', 80))
          .defaultBackend(svc('web', 80))
          .build(),
        ingress('b').cls('portico').host('b.example').prefix('/', svc('web', 80)).build(),
        ingress('c').cls('portico').defaultBackend(svc('fallback', 80)).build(),
      ]),
      TEST_OPTIONS,
    );
    assert.deepEqual(
      collectBackends(model)
        .map((b) => b.key)
        .sort(),
      ['default/api:80', 'default/fallback:80', 'default/web:80'],
    );
  });
});
