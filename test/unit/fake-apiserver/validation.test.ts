/**
 * Validation the real apiserver does, as the fake reproduces it: 422 Invalid with one cause per
 * field, through client-node (EndpointSlice addresses, Ingress paths, names) and the store API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { ApiError, type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { failureOf, kubeConfigFor } from './helpers.js';

describe('fake apiserver validation', () => {
  let server: FakeApiServer;
  let core: CoreV1Api;
  let net: NetworkingV1Api;
  let disco: DiscoveryV1Api;

  before(async () => {
    server = await startFakeApiServer();
    const kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    net = kc.makeApiClient(NetworkingV1Api);
    disco = kc.makeApiClient(DiscoveryV1Api);
  });

  after(async () => {
    await server.close();
  });

  const badAddresses = [
    {
      address: '127.0.0.1',
      type: 'IPv4',
      message: 'may not be in the loopback range (127.0.0.0/8, ::1/128)',
    },
    {
      address: '127.5.6.7',
      type: 'IPv4',
      message: 'may not be in the loopback range (127.0.0.0/8, ::1/128)',
    },
    { address: '0.0.0.0', type: 'IPv4', message: 'may not be unspecified (0.0.0.0)' },
    {
      address: '169.254.1.1',
      type: 'IPv4',
      message: 'may not be in the link-local range (169.254.0.0/16, fe80::/10)',
    },
    {
      address: '224.0.0.5',
      type: 'IPv4',
      message: 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)',
    },
    { address: '::1', type: 'IPv6', message: 'may not be in the loopback range (127.0.0.0/8, ::1/128)' },
    { address: '::', type: 'IPv6', message: 'may not be unspecified (::)' },
    {
      address: 'fe80::1',
      type: 'IPv6',
      message: 'may not be in the link-local range (169.254.0.0/16, fe80::/10)',
    },
    { address: '10.0.0.300', type: 'IPv4', message: 'must be a valid IPv4 address' },
    { address: '10.0.0.1', type: 'IPv6', message: 'must be a valid IPv6 address' },
  ] as const;

  for (const c of badAddresses) {
    test(`an EndpointSlice ${c.type} address ${c.address} is rejected: ${c.message}`, async () => {
      const { code, status } = await failureOf(() =>
        disco.createNamespacedEndpointSlice({
          namespace: 'default',
          body: {
            metadata: { name: 'bad' },
            addressType: c.type,
            endpoints: [
              { addresses: ['10.1.2.3', c.address].filter((a) => c.type === 'IPv4' || a !== '10.1.2.3') },
            ],
          },
        }),
      );
      assert.equal(code, 422);
      assert.equal(status.reason, 'Invalid');
      const cause = status.details?.causes?.find((x) => x.message.includes(c.message));
      assert.ok(cause, JSON.stringify(status));
      assert.match(cause.field, /^endpoints\[0\]\.addresses\[\d\]$/);
      assert.equal(cause.reason, 'FieldValueInvalid');
    });
  }

  test('an EndpointSlice without addressType is rejected; routable addresses are accepted', async () => {
    const { code, status } = await failureOf(() =>
      disco.createNamespacedEndpointSlice({
        namespace: 'default',
        body: { metadata: { name: 'no-type' }, addressType: '', endpoints: [] },
      }),
    );
    assert.equal(code, 422);
    assert.deepEqual(
      status.details?.causes?.map((c) => [c.field, c.reason]),
      [['addressType', 'FieldValueRequired']],
    );
    const ok = await disco.createNamespacedEndpointSlice({
      namespace: 'default',
      body: {
        metadata: { name: 'ok' },
        addressType: 'IPv6',
        endpoints: [{ addresses: ['2001:db8::1'] }, { addresses: ['fd00::5'] }],
      },
    });
    assert.equal(ok.addressType, 'IPv6');
  });

  test('EndpointSlice addressType is immutable', async () => {
    const current = await disco.readNamespacedEndpointSlice({ namespace: 'default', name: 'ok' });
    const { code, status } = await failureOf(() =>
      disco.replaceNamespacedEndpointSlice({
        namespace: 'default',
        name: 'ok',
        body: { ...current, addressType: 'IPv4', endpoints: [] },
      }),
    );
    assert.equal(code, 422);
    assert.match(status.message ?? '', /addressType: Invalid value: "IPv4": field is immutable/);
  });

  function ingressWith(path: Record<string, unknown>): V1Ingress {
    return {
      metadata: { name: 'ing' },
      spec: {
        rules: [
          {
            host: 'a.example',
            http: {
              paths: [{ backend: { service: { name: 'web', port: { number: 80 } } }, ...path } as never],
            },
          },
        ],
      },
    };
  }

  const ingressCases = [
    {
      name: 'pathType is required',
      path: { path: '/' },
      field: 'spec.rules[0].http.paths[0].pathType',
      message: 'Required value: pathType must be specified',
    },
    {
      name: 'pathType must be a known value',
      path: { path: '/', pathType: 'Regex' },
      field: 'spec.rules[0].http.paths[0].pathType',
      message: 'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"',
    },
    {
      name: 'a Prefix path must be absolute',
      path: { path: 'shop', pathType: 'Prefix' },
      field: 'spec.rules[0].http.paths[0].path',
      message: 'Invalid value: "shop": must be an absolute path',
    },
    {
      name: 'an Exact path may not contain //',
      path: { path: '/a//b', pathType: 'Exact' },
      field: 'spec.rules[0].http.paths[0].path',
      message: 'Invalid value: "/a//b": must not contain \'//\'',
    },
  ] as const;

  for (const c of ingressCases) {
    test(`Ingress: ${c.name}`, async () => {
      const { code, status } = await failureOf(() =>
        net.createNamespacedIngress({ namespace: 'default', body: ingressWith(c.path) }),
      );
      assert.equal(code, 422);
      assert.deepEqual(
        status.details?.causes?.map((x) => [x.field, x.message]),
        [[c.field, c.message]],
      );
      assert.equal(status.message, `Ingress.networking.k8s.io "ing" is invalid: ${c.field}: ${c.message}`);
    });
  }

  test('Ingress: an ImplementationSpecific path need not start with /... but a host may not be an IP', async () => {
    const { code, status } = await failureOf(() =>
      net.createNamespacedIngress({
        namespace: 'default',
        body: {
          metadata: { name: 'ip' },
          spec: {
            rules: [
              {
                host: '192.0.2.1',
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'ImplementationSpecific',
                      backend: { service: { name: 'web', port: { number: 80 } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      }),
    );
    assert.equal(code, 422);
    assert.equal(status.details?.causes?.[0]?.field, 'spec.rules[0].host');
  });

  test('names follow the kind rule: Services are DNS-1035 labels, ConfigMaps DNS-1123 subdomains', async () => {
    const svc = await failureOf(() =>
      core.createNamespacedService({
        namespace: 'default',
        body: { metadata: { name: '1web' }, spec: { ports: [{ port: 80 }] } },
      }),
    );
    assert.equal(svc.code, 422);
    assert.equal(svc.status.details?.causes?.[0]?.field, 'metadata.name');
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: '1web.conf' } },
    });
    assert.equal(cm.metadata?.name, '1web.conf');
    const upper = await failureOf(() =>
      core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Web' } } }),
    );
    assert.equal(upper.code, 422);
    const missing = await failureOf(() =>
      core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: {} } }),
    );
    assert.equal(
      missing.status.details?.causes?.[0]?.message,
      'Required value: name or generateName is required',
    );
  });

  test('generateName makes a name', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { generateName: 'gen-' } },
    });
    assert.match(cm.metadata?.name ?? '', /^gen-[a-z0-9]{5}$/);
  });

  test('the store API validates too, throwing ApiError with the Status', () => {
    assert.throws(
      () =>
        server.create({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'lo', namespace: 'default' },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['127.0.0.1'] }],
        }),
      (err: unknown) => err instanceof ApiError && err.code === 422 && err.status.reason === 'Invalid',
    );
  });
});
