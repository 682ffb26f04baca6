/**
 * `tls` makes throw-away self-signed serving certificates with the openssl CLI (test code only:
 * src/ never spawns processes) and lays them out as a mounted Secret volume does, with the
 * `..data` symlink kubelet swaps atomically on update.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `Cert` is a generated certificate (PEM) and key. */
export interface Cert {
  readonly cert: string;
  readonly key: string;
}

/** `makeCert` returns a fresh self-signed P-256 certificate valid for 127.0.0.1 and `cn`. */
export function makeCert(dir: string, cn: string): Cert {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${cn}.key`);
  const certFile = join(dir, `${cn}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=IP:127.0.0.1,DNS:${cn}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'pipe' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
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
