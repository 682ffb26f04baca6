/**
 * The `upstream` annotation family: valid values, edge cases and invalid values with their exact
 * errors, through the registry's one entry point (ingress-nginx's test/e2e/annotations/proxy.go
 * cases among them: "8m" is a body size, "15r" is not; "50k" is not a timeout).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readIngressAnnotations } from '../../../../src/model/annotations/registry.js';
import type { Ingress } from '../../../../src/model/objects.js';
import { DEFAULT_ROUTE_POLICY, type UpstreamPolicy } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

const read = (annotations: Record<string, string>) =>
  readIngressAnnotations({
    kind: 'Ingress',
    metadata: { name: 'i', namespace: 'shop', annotations },
    spec: {},
  } as unknown as Ingress);

interface Row {
  readonly name: string;
  readonly annotations: Record<string, string>;
  /** The expected `policy.upstream` (absent: the Ingress keeps the shared default policy). */
  readonly upstream?: UpstreamPolicy;
  /** The expected problems (the Ingress is rejected). */
  readonly problems?: readonly { field: string; message: string }[];
}

const MiB = 1024 * 1024;

const valid: readonly Row[] = [
  {
    name: 'no annotation of the family keeps the shared default policy',
    annotations: {},
  },
  {
    name: 'timeouts are whole seconds, as ingress-nginx writes them (proxy.go "50", "20", "20")',
    annotations: {
      [`${N}proxy-connect-timeout`]: '50',
      [`${N}proxy-send-timeout`]: '20',
      [`${N}proxy-read-timeout`]: '20',
    },
    upstream: { connectTimeoutMs: 50_000, readTimeoutMs: 20_000, sendTimeoutMs: 20_000 },
  },
  {
    name: 'nginx time syntax is accepted for timeouts too',
    annotations: { [`${P}proxy-read-timeout`]: '1m30s', [`${P}proxy-connect-timeout`]: '500ms' },
    upstream: { connectTimeoutMs: 500, readTimeoutMs: 90_000 },
  },
  {
    name: 'the portico.dev spelling wins over the nginx one',
    annotations: { [`${P}proxy-read-timeout`]: '7', [`${N}proxy-read-timeout`]: '9' },
    upstream: { readTimeoutMs: 7_000 },
  },
  {
    name: 'proxy-body-size "8m" is 8 MiB (proxy.go)',
    annotations: { [`${N}proxy-body-size`]: '8m' },
    upstream: { maxBodyBytes: 8 * MiB },
  },
  {
    name: 'proxy-body-size units are case-insensitive and include g',
    annotations: { [`${N}proxy-body-size`]: '1G' },
    upstream: { maxBodyBytes: 1024 * MiB },
  },
  {
    name: 'proxy-body-size in bytes',
    annotations: { [`${N}proxy-body-size`]: '1500' },
    upstream: { maxBodyBytes: 1500 },
  },
  {
    name: 'proxy-body-size "0" means no limit (kept as 0, which overrides the global limit)',
    annotations: { [`${N}proxy-body-size`]: '0' },
    upstream: { maxBodyBytes: 0 },
  },
  {
    name: 'proxy-next-upstream words, tries and timeout (proxy.go "error timeout http_502", 10, 5)',
    annotations: {
      [`${N}proxy-next-upstream`]: 'error timeout http_502',
      [`${N}proxy-next-upstream-timeout`]: '10',
      [`${N}proxy-next-upstream-tries`]: '5',
    },
    upstream: {
      nextUpstream: ['error', 'timeout', 'http_502'],
      nextUpstreamTries: 5,
      nextUpstreamTimeoutMs: 10_000,
    },
  },
  {
    name: 'proxy-next-upstream words are deduplicated and extra blanks ignored',
    annotations: { [`${N}proxy-next-upstream`]: '  http_503   error http_503 non_idempotent ' },
    upstream: { nextUpstream: ['http_503', 'error', 'non_idempotent'] },
  },
  {
    name: '"off" wins over anything written with it, as nginx reads it',
    annotations: { [`${N}proxy-next-upstream`]: 'error off' },
    upstream: { nextUpstream: ['off'] },
  },
  {
    name: 'large tries and timeouts are taken as ingress-nginx takes them (settings/proxy_next_upstream.go)',
    annotations: {
      [`${N}proxy-next-upstream-tries`]: '888888',
      [`${N}proxy-next-upstream-timeout`]: '999999',
    },
    upstream: { nextUpstreamTries: 888_888, nextUpstreamTimeoutMs: 999_999_000 },
  },
  {
    name: 'tries 0 means no limit, timeout 0 means no limit',
    annotations: { [`${N}proxy-next-upstream-tries`]: '0', [`${N}proxy-next-upstream-timeout`]: '0' },
    upstream: { nextUpstreamTries: 0, nextUpstreamTimeoutMs: 0 },
  },
  {
    name: 'upstream-vhost is lowercased (upstreamvhost.go "upstreamvhost.bar.com")',
    annotations: { [`${N}upstream-vhost`]: 'UpstreamVhost.bar.com' },
    upstream: { vhost: 'upstreamvhost.bar.com' },
  },
  {
    name: 'upstream-vhost may carry a port',
    annotations: { [`${N}upstream-vhost`]: 'internal:8080' },
    upstream: { vhost: 'internal:8080' },
  },
  {
    name: 'service-upstream "true"',
    annotations: { [`${N}service-upstream`]: 'true' },
    upstream: { serviceUpstream: true },
  },
  {
    name: 'service-upstream "false" alone changes nothing',
    annotations: { [`${N}service-upstream`]: 'false' },
  },
];

const invalid: readonly Row[] = [
  {
    name: 'a timeout in an nginx size unit is refused (proxy.go "50k")',
    annotations: { [`${N}proxy-connect-timeout`]: '50k' },
    problems: [
      {
        field: field(`${N}proxy-connect-timeout`),
        message: '"50k": must be seconds ("60") or an nginx time ("60s", "1m", "500ms")',
      },
    ],
  },
  {
    name: 'a zero timeout is refused',
    annotations: { [`${N}proxy-read-timeout`]: '0' },
    problems: [{ field: field(`${N}proxy-read-timeout`), message: '"0": must be greater than 0' }],
  },
  {
    name: 'a negative timeout is refused',
    annotations: { [`${N}proxy-send-timeout`]: '-5' },
    problems: [
      {
        field: field(`${N}proxy-send-timeout`),
        message: '"-5": must be seconds ("60") or an nginx time ("60s", "1m", "500ms")',
      },
    ],
  },
  {
    name: 'a body size in an unknown unit is refused (proxy.go "15r")',
    annotations: { [`${N}proxy-body-size`]: '15r' },
    problems: [
      {
        field: field(`${N}proxy-body-size`),
        message: '"15r": must be a size such as "8m", "512k", "1g" or bytes; "0" means no limit',
      },
    ],
  },
  {
    name: 'a fractional body size is refused',
    annotations: { [`${N}proxy-body-size`]: '1.5m' },
    problems: [
      {
        field: field(`${N}proxy-body-size`),
        message: '"1.5m": must be a size such as "8m", "512k", "1g" or bytes; "0" means no limit',
      },
    ],
  },
  {
    name: 'an unknown proxy-next-upstream word is named',
    annotations: { [`${N}proxy-next-upstream`]: 'error http_501' },
    problems: [
      {
        field: field(`${N}proxy-next-upstream`),
        message:
          '"error http_501": unknown condition "http_501"; use error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off',
      },
    ],
  },
  {
    name: 'an empty proxy-next-upstream is refused',
    annotations: { [`${N}proxy-next-upstream`]: ' ' },
    problems: [
      { field: field(`${N}proxy-next-upstream`), message: '" ": must list at least one condition, or "off"' },
    ],
  },
  {
    name: 'negative tries are refused',
    annotations: { [`${N}proxy-next-upstream-tries`]: '-1' },
    problems: [{ field: field(`${N}proxy-next-upstream-tries`), message: '"-1": must be a whole number' }],
  },
  {
    name: 'an nginx variable in upstream-vhost is refused: annotations are data',
    annotations: { [`${N}upstream-vhost`]: '$host' },
    problems: [
      {
        field: field(`${N}upstream-vhost`),
        message: '"$host": nginx variables are not supported; write the host name',
      },
    ],
  },
  {
    name: 'an upstream-vhost with a bad port is refused',
    annotations: { [`${N}upstream-vhost`]: 'a.example:99999' },
    problems: [
      {
        field: field(`${N}upstream-vhost`),
        message: '"a.example:99999": the port must be a number from 1 to 65535',
      },
    ],
  },
  {
    name: 'an upstream-vhost with a path is refused',
    annotations: { [`${N}upstream-vhost`]: 'a.example/x' },
    problems: [
      {
        field: field(`${N}upstream-vhost`),
        message: '"a.example/x": must be a host name, optionally with ":port"',
      },
    ],
  },
  {
    name: 'service-upstream takes Go booleans only',
    annotations: { [`${N}service-upstream`]: 'yes' },
    problems: [{ field: field(`${N}service-upstream`), message: '"yes": must be "true" or "false"' }],
  },
  {
    name: 'every invalid value is reported at once',
    annotations: { [`${N}proxy-read-timeout`]: 'x', [`${P}proxy-body-size`]: 'big' },
    problems: [
      {
        field: field(`${N}proxy-read-timeout`),
        message: '"x": must be seconds ("60") or an nginx time ("60s", "1m", "500ms")',
      },
      {
        field: field(`${P}proxy-body-size`),
        message: '"big": must be a size such as "8m", "512k", "1g" or bytes; "0" means no limit',
      },
    ],
  },
];

describe('upstream family: valid values', () => {
  for (const r of valid) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, []);
      assert.deepEqual(got.unknown, []);
      if (r.upstream === undefined) assert.equal(got.policy, DEFAULT_ROUTE_POLICY);
      else assert.deepEqual(got.policy, { backendProtocol: 'HTTP', upstream: r.upstream });
    });
  }
});

describe('upstream family: invalid values reject the Ingress with the exact error', () => {
  for (const r of invalid) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, r.problems);
      assert.equal(got.policy.upstream, undefined, 'an invalid value is never used');
    });
  }
});
