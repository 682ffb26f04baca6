import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FlagError,
  parseDnsName,
  parseFlags,
  parseListenAddress,
  parseNameList,
  parseObjectName,
} from '../../../src/cli/flags.js';

function runConfig(argv: readonly string[]) {
  const cmd = parseFlags(argv);
  assert.equal(cmd.kind, 'run');
  if (cmd.kind !== 'run') throw new Error('unreachable');
  return cmd.config;
}

describe('cluster flags: value parsers', () => {
  const good = [
    {
      name: 'parseObjectName reads namespace/name',
      run: () => parseObjectName('ingress/portico'),
      want: { namespace: 'ingress', name: 'portico' },
    },
    {
      name: 'parseNameList trims, drops empties and duplicates',
      run: () => parseNameList(' a, b,,a '),
      want: ['a', 'b'],
    },
    { name: 'parseNameList of an empty string means all namespaces', run: () => parseNameList(''), want: [] },
    {
      name: 'parseListenAddress reads host:port',
      run: () => parseListenAddress('127.0.0.1:8443'),
      want: { host: '127.0.0.1', port: 8443 },
    },
    {
      name: 'parseListenAddress reads :port as every IPv4 address',
      run: () => parseListenAddress(':8443'),
      want: { host: '0.0.0.0', port: 8443 },
    },
    {
      name: 'parseListenAddress reads a bracketed IPv6 address',
      run: () => parseListenAddress('[::1]:9443'),
      want: { host: '::1', port: 9443 },
    },
    {
      name: 'parseDnsName accepts a dotted lowercase name',
      run: () => parseDnsName('portico.leader-1'),
      want: 'portico.leader-1',
    },
  ] as const;
  for (const c of good) test(c.name, () => assert.deepEqual(c.run(), c.want));

  const bad = [
    { name: 'parseObjectName refuses a bare name', run: () => parseObjectName('portico') },
    { name: 'parseObjectName refuses three parts', run: () => parseObjectName('a/b/c') },
    { name: 'parseObjectName refuses uppercase', run: () => parseObjectName('Ingress/portico') },
    { name: 'parseNameList refuses a name with a slash', run: () => parseNameList('a,b/c') },
    { name: 'parseListenAddress refuses a host name', run: () => parseListenAddress('localhost:8443') },
    { name: 'parseListenAddress refuses a missing port', run: () => parseListenAddress('127.0.0.1') },
    { name: 'parseDnsName refuses underscores', run: () => parseDnsName('portico_leader') },
  ] as const;
  for (const c of bad) test(c.name, () => assert.throws(c.run));
});

describe('cluster flags: parseFlags', () => {
  test('cluster mode (no --manifests) waits 5 s before draining; file mode does not wait', () => {
    assert.equal(runConfig([]).proxy.shutdownDelayMs, 5_000);
    assert.equal(runConfig(['--manifests', 'd']).proxy.shutdownDelayMs, 0);
    assert.equal(runConfig(['--shutdown-delay', '1s']).proxy.shutdownDelayMs, 1_000);
  });

  test('cluster defaults follow client-go leader election and watch all namespaces', () => {
    const { cluster } = runConfig([]);
    assert.deepEqual(cluster.watchNamespaces, []);
    assert.deepEqual(cluster.publishStatusAddresses, []);
    assert.equal(cluster.election.leaseName, 'portico-leader');
    assert.equal(cluster.election.leaseDurationMs, 15_000);
    assert.equal(cluster.election.renewDeadlineMs, 10_000);
    assert.equal(cluster.election.retryPeriodMs, 2_000);
    assert.ok(cluster.election.identity.length > 0);
    assert.equal(cluster.admission, undefined);
  });

  test('every cluster flag is set from the command line', () => {
    const { cluster } = runConfig([
      '--kubeconfig=/k',
      '--watch-namespace=a,b',
      '--configmap=ingress/portico-config',
      '--publish-service=ingress/portico',
      '--publish-status-address=203.0.113.7,lb.example.com',
      '--default-ssl-certificate=ingress/default-cert',
      '--election-id=el',
      '--election-namespace=ingress',
      '--lease-duration=30s',
      '--renew-deadline=20s',
      '--retry-period=5s',
      '--admission-listen=:8443',
      '--admission-cert-dir=/certs',
    ]);
    assert.equal(cluster.kubeconfig, '/k');
    assert.deepEqual(cluster.watchNamespaces, ['a', 'b']);
    assert.deepEqual(cluster.configMap, { namespace: 'ingress', name: 'portico-config' });
    assert.deepEqual(cluster.publishService, { namespace: 'ingress', name: 'portico' });
    assert.deepEqual(cluster.publishStatusAddresses, ['203.0.113.7', 'lb.example.com']);
    assert.deepEqual(cluster.defaultSslCertificate, { namespace: 'ingress', name: 'default-cert' });
    assert.equal(cluster.election.leaseName, 'el');
    assert.equal(cluster.election.namespace, 'ingress');
    assert.equal(cluster.election.leaseDurationMs, 30_000);
    assert.deepEqual(cluster.admission, { host: '0.0.0.0', port: 8443, certDir: '/certs' });
  });

  const refusals = [
    {
      name: 'a renew deadline as long as the lease is refused',
      argv: ['--lease-duration=10s', '--renew-deadline=10s'],
    },
    {
      name: 'a retry period as long as the renew deadline is refused',
      argv: ['--renew-deadline=2s', '--retry-period=2s'],
    },
    { name: 'an admission listener without certificates is refused', argv: ['--admission-listen=:8443'] },
    { name: 'a malformed --publish-service is refused', argv: ['--publish-service=portico'] },
  ] as const;
  for (const c of refusals) test(c.name, () => assert.throws(() => parseFlags(c.argv), FlagError));
});
