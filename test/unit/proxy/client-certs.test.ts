import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ClientAuthPolicy } from '../../../src/model/types.js';
import {
  type ChainVerdict,
  ClientCertChecker,
  rfc2253,
  verifyClientChain,
} from '../../../src/proxy/client-certs.js';
import { type CaBundleCheck, checkCaBundle } from '../../../src/tls/ca-bundles.js';
import {
  caSecret,
  makeCa,
  makeCertificate,
  makeSignedCertificate,
  type TestCertificate,
} from '../../support/certs.js';

const DAY = 86_400_000;
const now = Date.now();
const x509 = (pair: TestCertificate): X509Certificate => new X509Certificate(pair.cert);

const root = makeCa('Test Root');
const otherRoot = makeCa('Other Root');
const intermediate = makeCa('Test Intermediate', { issuer: root });
const expiredIntermediate = makeCa('Old Intermediate', {
  issuer: root,
  notBefore: new Date(now - 3 * DAY),
  notAfter: new Date(now - DAY),
});
const leaf = makeSignedCertificate(root, 'client', { subject: '/C=US/O=Org, Inc/CN=client' });
const viaIntermediate = makeSignedCertificate(intermediate, 'deep');
const viaExpiredIntermediate = makeSignedCertificate(expiredIntermediate, 'late', {
  notBefore: new Date(now - 2 * DAY),
});
const fromOtherRoot = makeSignedCertificate(otherRoot, 'stranger');
const expired = makeSignedCertificate(root, 'expired', {
  notBefore: new Date(now - 3 * DAY),
  notAfter: new Date(now - DAY),
});
const notYetValid = makeSignedCertificate(root, 'future', {
  notBefore: new Date(now + DAY),
  notAfter: new Date(now + 2 * DAY),
});
const serverOnly = makeSignedCertificate(root, 'server-only', { eku: 'serverAuth' });
const noEku = makeSignedCertificate(root, 'no-eku', { eku: 'none' });
const selfSigned = makeCertificate('self', { keyType: 'ecdsa' });
// Checks run at this instant: after every certificate above began (openssl req -x509 starts at "now").
const at = Date.now() + 1_000;

describe('verifyClientChain', () => {
  const cases: {
    name: string;
    presented: readonly TestCertificate[];
    anchors: readonly TestCertificate[];
    depth: number;
    want: { ok: true } | { ok: false; reason: string; untrusted: boolean };
  }[] = [
    {
      name: 'leaf issued by a CA of the bundle',
      presented: [leaf],
      anchors: [root],
      depth: 1,
      want: { ok: true },
    },
    {
      name: 'the matching CA is found among several',
      presented: [leaf],
      anchors: [otherRoot, root],
      depth: 1,
      want: { ok: true },
    },
    {
      name: 'intermediate sent by the client, depth 1: too long',
      presented: [viaIntermediate, intermediate],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'certificate chain too long', untrusted: false },
    },
    {
      name: 'intermediate sent by the client, depth 2',
      presented: [viaIntermediate, intermediate],
      anchors: [root],
      depth: 2,
      want: { ok: true },
    },
    {
      name: 'intermediate not sent: issuer unknown',
      presented: [viaIntermediate],
      anchors: [root],
      depth: 2,
      want: { ok: false, reason: 'unable to get local issuer certificate', untrusted: true },
    },
    {
      name: 'an intermediate in the bundle is an anchor (partial chain)',
      presented: [viaIntermediate],
      anchors: [intermediate],
      depth: 1,
      want: { ok: true },
    },
    {
      name: 'certificate of another CA',
      presented: [fromOtherRoot],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'unable to get local issuer certificate', untrusted: true },
    },
    {
      name: 'expired leaf',
      presented: [expired],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'certificate has expired', untrusted: false },
    },
    {
      name: 'leaf not yet valid',
      presented: [notYetValid],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'certificate is not yet valid', untrusted: false },
    },
    {
      name: 'expired intermediate',
      presented: [viaExpiredIntermediate, expiredIntermediate],
      anchors: [root],
      depth: 2,
      want: { ok: false, reason: 'certificate has expired', untrusted: false },
    },
    {
      name: 'EKU serverAuth only',
      presented: [serverOnly],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'unsupported certificate purpose', untrusted: false },
    },
    { name: 'no EKU extension at all', presented: [noEku], anchors: [root], depth: 1, want: { ok: true } },
    {
      name: 'self-signed leaf not in the bundle',
      presented: [selfSigned],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'self-signed certificate', untrusted: true },
    },
    {
      name: 'self-signed leaf pinned in the bundle',
      presented: [selfSigned],
      anchors: [root, selfSigned],
      depth: 1,
      want: { ok: true },
    },
    {
      name: 'no certificate',
      presented: [],
      anchors: [root],
      depth: 1,
      want: { ok: false, reason: 'no certificate', untrusted: false },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verdict = verifyClientChain(c.presented.map(x509), c.anchors.map(x509), c.depth, at);
      if (c.want.ok) {
        assert.equal(verdict.ok, true, JSON.stringify(verdict));
      } else {
        assert.deepEqual(verdict, c.want);
      }
    });
  }

  test('a success holds until the earliest notAfter of the chain', () => {
    const verdict = verifyClientChain([viaIntermediate, intermediate].map(x509), [x509(root)], 2, at);
    const earliest = Math.min(
      ...[viaIntermediate, intermediate, root].map((p) => Date.parse(x509(p).validTo)),
    );
    assert.deepEqual(verdict, { ok: true, notAfter: earliest } satisfies ChainVerdict);
  });
});

/** `opensslRfc2253` asks openssl itself for the subject as nginx prints `$ssl_client_s_dn`. */
function opensslRfc2253(pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-dn-'));
  try {
    writeFileSync(join(dir, 'c.pem'), pem);
    const out = execFileSync(
      'openssl',
      ['x509', '-in', join(dir, 'c.pem'), '-noout', '-subject', '-nameopt', 'RFC2253'],
      { encoding: 'utf8' },
    );
    return out.trim().replace(/^subject=/, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function selfSignedWithSubject(subject: string, multivalue = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-dn-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '1',
        '-utf8',
        ...(multivalue ? ['-multivalue-rdn'] : []),
        '-subj',
        subject,
      ],
      { stdio: 'ignore' },
    );
    return execFileSync('cat', [join(dir, 'c.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rfc2253 renders names exactly as OpenSSL XN_FLAG_RFC2253 (nginx $ssl_client_s_dn)', () => {
  const cases: { subject: string; multivalue?: boolean; want: string }[] = [
    { subject: '/CN=client', want: 'CN=client' },
    { subject: '/C=US/O=Org, Inc/CN=client', want: 'CN=client,O=Org\\, Inc,C=US' },
    { subject: '/CN=a+OU=b/O=x', multivalue: true, want: 'O=x,OU=b+CN=a' },
    { subject: '/CN=Jörg/O=A\\+B;C<d>"e', want: 'O=A\\+B\\;C\\<d\\>\\"e,CN=J\\C3\\B6rg' },
    { subject: '/CN=x#y/O=#lead/OU=trail ', want: 'OU=trail\\ ,O=\\#lead,CN=x#y' },
    { subject: '/emailAddress=a@b.example/CN=mail', want: 'CN=mail,emailAddress=a@b.example' },
  ];
  for (const c of cases) {
    test(c.subject, () => {
      const pem = selfSignedWithSubject(c.subject, c.multivalue);
      assert.equal(opensslRfc2253(pem), c.want, 'openssl agrees with the expected text');
      assert.equal(rfc2253(new X509Certificate(pem).subject), c.want);
    });
  }
  test('empty name', () => assert.equal(rfc2253(''), ''));
});

/** A stand-in for the TLS socket: what the checker reads from it. */
function fakeSocket(servername: string | false, peer?: TestCertificate): Socket {
  const cert = peer === undefined ? undefined : x509(peer);
  return { servername, getPeerX509Certificate: () => cert } as unknown as Socket;
}

function policy(overrides: Partial<ClientAuthPolicy> = {}): ClientAuthPolicy {
  return {
    caSecret: { namespace: 'default', name: 'ca' },
    verify: 'on',
    depth: 1,
    passCertificate: false,
    ingress: 'default/secure',
    field: "metadata.annotations['nginx.ingress.kubernetes.io/auth-tls-secret']",
    ...overrides,
  };
}

function bundles(pem: string): Map<string, CaBundleCheck> {
  return new Map([['default/ca', checkCaBundle(caSecret('ca', pem))]]);
}

describe('ClientCertChecker', () => {
  const host = 'secure.test';
  type Want = { status: 400 | 421 | 503; body: RegExp } | { headers: Record<string, string | undefined> };
  const cases: {
    name: string;
    socket: Socket;
    tls?: boolean;
    policy?: Partial<ClientAuthPolicy>;
    bundles?: Map<string, CaBundleCheck>;
    want: Want;
  }[] = [
    {
      name: 'TLS name of another host: 421',
      socket: fakeSocket('other.test', leaf),
      want: { status: 421, body: /^421 Misdirected Request — .*"other\.test".*"secure\.test"/ },
    },
    {
      name: 'TLS name differing only in case and trailing dot is the same host',
      socket: fakeSocket('SECURE.test.', leaf),
      want: { headers: { 'ssl-client-verify': 'SUCCESS' } },
    },
    {
      name: 'no SNI (an IP address was dialled): checked, not misdirected (as nginx)',
      socket: fakeSocket(false, leaf),
      want: { headers: { 'ssl-client-verify': 'SUCCESS' } },
    },
    {
      name: 'verify off: neither the TLS name nor the certificate is checked',
      socket: fakeSocket('other.test', fromOtherRoot),
      policy: { verify: 'off' },
      want: { headers: { 'ssl-client-verify': 'NONE', 'ssl-client-subject-dn': undefined } },
    },
    {
      name: 'a denied policy fails closed',
      socket: fakeSocket(host, leaf),
      policy: { deny: 'auth-tls-secret must name a Secret in namespace "default"' },
      want: { status: 503, body: /^503 Service Unavailable — auth-tls-secret must name/ },
    },
    {
      name: 'CA bundle not loaded: 503',
      socket: fakeSocket(host, leaf),
      bundles: new Map(),
      want: { status: 503, body: /CA Secret default\/ca is not loaded/ },
    },
    {
      name: 'CA bundle unusable: 503 with the reason',
      socket: fakeSocket(host, leaf),
      bundles: new Map([['default/ca', checkCaBundle(undefined)]]),
      want: { status: 503, body: /CA Secret default\/ca cannot be used: Secret not found/ },
    },
    {
      name: 'on, no certificate: 400',
      socket: fakeSocket(host),
      want: { status: 400, body: /^400 Bad Request — No required SSL certificate was sent\n$/ },
    },
    {
      name: 'on, valid certificate: SUCCESS and both DNs',
      socket: fakeSocket(host, leaf),
      want: {
        headers: {
          'ssl-client-verify': 'SUCCESS',
          'ssl-client-subject-dn': 'CN=client,O=Org\\, Inc,C=US',
          'ssl-client-issuer-dn': 'CN=Test Root',
          'ssl-client-cert': undefined,
        },
      },
    },
    {
      name: 'passCertificate adds the URL-encoded PEM',
      socket: fakeSocket(host, leaf),
      policy: { passCertificate: true },
      want: {
        headers: {
          'ssl-client-verify': 'SUCCESS',
          'ssl-client-cert': encodeURIComponent(x509(leaf).toString()),
        },
      },
    },
    {
      name: 'on, certificate of another CA: 400',
      socket: fakeSocket(host, fromOtherRoot),
      want: {
        status: 400,
        body: /^400 Bad Request — The SSL certificate error: unable to get local issuer certificate\n$/,
      },
    },
    {
      name: 'optional, no certificate: NONE',
      socket: fakeSocket(host),
      policy: { verify: 'optional' },
      want: { headers: { 'ssl-client-verify': 'NONE', 'ssl-client-subject-dn': undefined } },
    },
    {
      name: 'optional, certificate of another CA: 400',
      socket: fakeSocket(host, fromOtherRoot),
      policy: { verify: 'optional' },
      want: { status: 400, body: /The SSL certificate error/ },
    },
    {
      name: 'optional_no_ca, certificate of another CA: passed as FAILED',
      socket: fakeSocket(host, fromOtherRoot),
      policy: { verify: 'optional_no_ca', passCertificate: true },
      want: {
        headers: {
          'ssl-client-verify': 'FAILED:unable to get local issuer certificate',
          'ssl-client-subject-dn': 'CN=stranger',
          'ssl-client-issuer-dn': 'CN=Other Root',
          'ssl-client-cert': encodeURIComponent(x509(fromOtherRoot).toString()),
        },
      },
    },
    {
      name: 'optional_no_ca, expired certificate: 400 (nginx only tolerates unknown issuers)',
      socket: fakeSocket(host, expired),
      policy: { verify: 'optional_no_ca' },
      want: { status: 400, body: /certificate has expired/ },
    },
    {
      name: 'optional_no_ca, valid certificate: SUCCESS',
      socket: fakeSocket(host, leaf),
      policy: { verify: 'optional_no_ca' },
      want: { headers: { 'ssl-client-verify': 'SUCCESS' } },
    },
    {
      name: 'plain HTTP, on: no certificate can have been sent',
      socket: fakeSocket(false, leaf),
      tls: false,
      want: { status: 400, body: /No required SSL certificate was sent/ },
    },
    {
      name: 'plain HTTP, optional: NONE',
      socket: fakeSocket(false, leaf),
      tls: false,
      policy: { verify: 'optional' },
      want: { headers: { 'ssl-client-verify': 'NONE' } },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const checker = new ClientCertChecker(() => at);
      checker.publish(c.bundles ?? bundles(root.cert));
      const outcome = checker.check(c.socket, c.tls ?? true, host, policy(c.policy));
      if ('status' in c.want) {
        assert.equal(outcome.ok, false, JSON.stringify(outcome));
        if (outcome.ok) return;
        assert.equal(outcome.status, c.want.status);
        assert.match(outcome.body, c.want.body);
        return;
      }
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      if (!outcome.ok) return;
      const got = new Map<string, string>();
      for (let i = 0; i + 1 < outcome.headers.length; i += 2) {
        got.set(outcome.headers[i] as string, outcome.headers[i + 1] as string);
      }
      for (const [name, value] of Object.entries(c.want.headers)) assert.equal(got.get(name), value, name);
    });
  }

  test('a success is cached per leaf and bundle, and expires with the certificate', () => {
    let clock = at;
    const checker = new ClientCertChecker(() => clock);
    checker.publish(bundles(root.cert));
    const socket = fakeSocket(host, leaf);
    assert.equal(checker.check(socket, true, host, policy()).ok, true);
    assert.equal(checker.check(socket, true, host, policy()).ok, true);
    assert.equal(checker.cached, 1);
    // A rotated bundle is a different key: verified again.
    checker.publish(bundles(root.cert + otherRoot.cert));
    assert.equal(checker.check(socket, true, host, policy()).ok, true);
    assert.equal(checker.cached, 2);
    clock = Date.parse(x509(leaf).validTo) + 1_000;
    const late = checker.check(socket, true, host, policy());
    assert.equal(late.ok, false);
    assert.equal(
      late.ok ? '' : late.body,
      '400 Bad Request — The SSL certificate error: certificate has expired\n',
    );
  });

  test('failures are not cached: the same leaf succeeds once its intermediate is sent', () => {
    const checker = new ClientCertChecker(() => at);
    checker.publish(bundles(root.cert));
    const deep = policy({ depth: 2 });
    assert.equal(checker.check(fakeSocket(host, viaIntermediate), true, host, deep).ok, false);
    assert.equal(checker.cached, 0);
    const withChain = {
      servername: host,
      getPeerX509Certificate: () => {
        const cert = x509(viaIntermediate);
        Object.defineProperty(cert, 'issuerCertificate', { value: x509(intermediate) });
        return cert;
      },
    } as unknown as Socket;
    assert.equal(checker.check(withChain, true, host, deep).ok, true);
    // A resumed session keeps only the leaf: the cached success still answers.
    assert.equal(checker.check(fakeSocket(host, viaIntermediate), true, host, deep).ok, true);
  });
});
