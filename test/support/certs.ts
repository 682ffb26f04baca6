/**
 * `certs` makes throwaway certificates with the openssl CLI for TLS tests: self-signed, one day,
 * RSA, ECDSA P-256 or Ed25519, with the SANs asked for; and small CAs (root, intermediate) that sign
 * client certificates with chosen dates and key usages.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Secret } from '../../src/model/objects.js';

export type KeyType = 'rsa' | 'ecdsa' | 'ed25519';

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

const NEW_KEY: Record<KeyType, readonly string[]> = {
  rsa: ['-newkey', 'rsa:2048'],
  ecdsa: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ed25519: ['-newkey', 'ed25519'],
};

/**
 * `makeCertificate` runs `openssl req -x509` for CN `cn`, DNS SANs `sans` (default: the CN) and IP
 * SANs `ips` (default: none). Test and bench code only: src/ never spawns processes.
 */
export function makeCertificate(
  cn: string,
  options: { sans?: readonly string[]; ips?: readonly string[]; keyType?: KeyType } = {},
): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'portico-cert-'));
  try {
    const keyFile = join(dir, 'tls.key');
    const certFile = join(dir, 'tls.crt');
    const sans = [
      ...(options.ips ?? []).map((ip) => `IP:${ip}`),
      ...(options.sans ?? [cn]).map((s) => `DNS:${s}`),
    ].join(',');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...NEW_KEY[options.keyType ?? 'rsa'],
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        `/CN=${cn}`,
        ...(sans === '' ? [] : ['-addext', `subjectAltName=${sans}`]),
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `tlsSecret` wraps PEM text as a `kubernetes.io/tls` Secret (base64 `data`, as the API serves it). */
export function tlsSecret(name: string, pair: TestCertificate, namespace = 'default'): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(pair.cert).toString('base64'),
      'tls.key': Buffer.from(pair.key).toString('base64'),
    },
  };
}

/** `TestCa` is a CA certificate and key that can sign others (`makeCa`). */
export interface TestCa extends TestCertificate {
  /** PEM of the CA and the CAs above it (for an intermediate: itself, then its issuers). */
  readonly chain: string;
}

export interface SignOptions {
  /** Full subject as `openssl -subj` takes it (default `/CN=<cn>`). */
  readonly subject?: string;
  readonly keyType?: KeyType;
  /** Extended key usage: `clientAuth` (default), `serverAuth`, or `none` (no EKU extension). */
  readonly eku?: 'clientAuth' | 'serverAuth' | 'none';
  /** Validity (default: from an hour ago to a day from now). */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

function opensslTime(date: Date): string {
  // GeneralizedTime, as `openssl ca -startdate/-enddate` take it.
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/**
 * `signWith` runs `openssl ca` (the one openssl command that takes explicit start and end dates)
 * to sign a fresh key for `subject` with `issuer`, adding the `extensions` lines.
 */
function signWith(
  issuer: TestCertificate,
  subject: string,
  extensions: readonly string[],
  options: SignOptions,
): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'portico-ca-'));
  try {
    const file = (name: string): string => join(dir, name);
    writeFileSync(file('issuer.crt'), issuer.cert);
    writeFileSync(file('issuer.key'), issuer.key);
    writeFileSync(file('index.txt'), '');
    writeFileSync(file('ext.cnf'), `${extensions.join('\n')}\n`);
    writeFileSync(
      file('ca.cnf'),
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `database = ${file('index.txt')}`,
        `new_certs_dir = ${dir}`,
        'rand_serial = yes',
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'email_in_dn = yes',
        '[any]',
        'commonName = optional',
        '',
      ].join('\n'),
    );
    execFileSync(
      'openssl',
      ['req', '-new', ...NEW_KEY[options.keyType ?? 'ecdsa'], '-nodes', '-keyout', file('leaf.key')].concat([
        '-out',
        file('leaf.csr'),
        '-subj',
        subject,
      ]),
      { stdio: 'ignore' },
    );
    const now = Date.now();
    execFileSync(
      'openssl',
      [
        'ca',
        '-batch',
        '-notext',
        '-preserveDN',
        '-config',
        file('ca.cnf'),
        '-cert',
        file('issuer.crt'),
        '-keyfile',
        file('issuer.key'),
        '-in',
        file('leaf.csr'),
        '-out',
        file('leaf.crt'),
        '-extfile',
        file('ext.cnf'),
        '-startdate',
        opensslTime(options.notBefore ?? new Date(now - 3_600_000)),
        '-enddate',
        opensslTime(options.notAfter ?? new Date(now + 86_400_000)),
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(file('leaf.crt'), 'utf8'), key: readFileSync(file('leaf.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CA_EXTENSIONS = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
];

/**
 * `makeCa` makes a CA: self-signed (ECDSA P-256, one day) or, with `issuer`, an intermediate CA
 * signed by it.
 */
export function makeCa(cn: string, options: { issuer?: TestCa } & SignOptions = {}): TestCa {
  if (options.issuer !== undefined) {
    const pair = signWith(options.issuer, options.subject ?? `/CN=${cn}`, CA_EXTENSIONS, options);
    return { ...pair, chain: pair.cert + options.issuer.chain };
  }
  const dir = mkdtempSync(join(tmpdir(), 'portico-ca-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...NEW_KEY[options.keyType ?? 'ecdsa'],
        '-nodes',
        '-keyout',
        join(dir, 'ca.key'),
        '-out',
        join(dir, 'ca.crt'),
        '-days',
        '1',
        '-subj',
        options.subject ?? `/CN=${cn}`,
        ...CA_EXTENSIONS.slice(0, 3).flatMap((e) => ['-addext', e.replace(' = ', '=')]),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'ca.crt'), 'utf8');
    return { cert, key: readFileSync(join(dir, 'ca.key'), 'utf8'), chain: cert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `makeSignedCertificate` makes a client (by default) certificate for `cn` signed by `issuer`.
 * `cert` holds the leaf only; `chain` the leaf followed by the issuer's intermediates (what a
 * client sends), excluding the self-signed root.
 */
export function makeSignedCertificate(
  issuer: TestCa,
  cn: string,
  options: SignOptions = {},
): TestCertificate & { readonly chain: string } {
  const eku = options.eku ?? 'clientAuth';
  const extensions = [
    'basicConstraints = CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'authorityKeyIdentifier = keyid',
    ...(eku === 'none' ? [] : [`extendedKeyUsage = ${eku}`]),
  ];
  const pair = signWith(issuer, options.subject ?? `/CN=${cn}`, extensions, options);
  const blocks = issuer.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  // The root (last block) stays out: clients send the chain below the trust anchor.
  const intermediates = blocks.slice(0, -1).join('');
  return { ...pair, chain: pair.cert + intermediates };
}

/** `caSecret` wraps a PEM CA bundle as a Secret with `ca.crt`, as `auth-tls-secret` expects. */
export function caSecret(name: string, pem: string, namespace = 'default'): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    data: { 'ca.crt': Buffer.from(pem).toString('base64') },
  };
}
