/**
 * `certs` makes throwaway certificates with the openssl CLI for TLS tests: self-signed, one day,
 * RSA, ECDSA P-256 or Ed25519, with the SANs asked for.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
