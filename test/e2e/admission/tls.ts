/**
 * `tls` makes throw-away self-signed serving certificates with the openssl CLI (test code only:
 * src/ never spawns processes) and lays them out as a mounted Secret volume does, with the
 * `..data` symlink kubelet swaps atomically on update.
 */
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificate, type TestCertificate } from '../../support/certs.js';

/** `Cert` is a generated certificate (PEM) and key. */
export type Cert = TestCertificate;

/** `makeCert` returns a fresh self-signed P-256 certificate valid for 127.0.0.1 and `cn`. */
export function makeCert(_dir: string, cn: string): Cert {
  return makeCertificate(cn, { keyType: 'ecdsa', ips: ['127.0.0.1'] });
}

let generation = 0;

/**
 * `writeSecretVolume` writes `tls.crt`/`tls.key` the way kubelet does: into a new timestamped folder,
 * then one atomic rename of the `..data` symlink onto it. `tls.crt` and `tls.key` are symlinks
 * through `..data`, so they never change themselves: only the folder sees an event.
 */
export function writeSecretVolume(dir: string, pair: Cert): void {
  generation++;
  const target = `..${Date.now()}_${generation}`;
  mkdirSync(join(dir, target), { recursive: true });
  writeFileSync(join(dir, target, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, target, 'tls.key'), pair.key);
  symlinkSync(target, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of ['tls.crt', 'tls.key']) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch {
      // Already linked through ..data by an earlier generation.
    }
  }
}
