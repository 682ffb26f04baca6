/**
 * `certs` loads the webhook's serving certificate from `tls.crt`/`tls.key` in a folder and reloads
 * it when the files change, so a rotated certificate (cert-manager, a re-created Secret) is served
 * without a restart.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../log/logger.js';

/** `KeyPair` is a PEM certificate chain and its private key. */
export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** `CERT_FILE` / `KEY_FILE` are the key names of a `kubernetes.io/tls` Secret, mounted as files. */
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

/**
 * `loadKeyPair` reads and checks the pair: `createSecureContext` refuses unparsable PEM and a key
 * that does not match the certificate, so a half-written rotation is never served.
 */
export async function loadKeyPair(dir: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(join(dir, CERT_FILE)), readFile(join(dir, KEY_FILE))]);
  createSecureContext({ cert, key });
  return { cert, key };
}

function fingerprint(pair: KeyPair): string {
  return createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
}

/** `CertReloaderOptions` configures `CertReloader`. */
export interface CertReloaderOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Called with every new, valid pair (not with the first one). */
  readonly onChange: (pair: KeyPair) => void;
  /** Safety-net re-read interval, for filesystems where `fs.watch` misses events. */
  readonly pollIntervalMs: number;
}

/**
 * `CertReloader` watches the certificate folder. It watches the folder, not the files: a mounted
 * Secret is updated by swapping the `..data` symlink, which a watch on `tls.crt` itself never sees.
 * A slow poll backs the watch up (overlay and network filesystems drop inotify events), and every
 * reload is compared by content hash, so duplicate events cost one read and no swap.
 */
export class CertReloader {
  readonly #options: CertReloaderOptions;
  #current = '';
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #reloading: Promise<void> = Promise.resolve();

  constructor(options: CertReloaderOptions) {
    this.#options = options;
  }

  /** `start` reads the first pair (failing if it is missing or invalid) and begins watching. */
  async start(): Promise<KeyPair> {
    const pair = await loadKeyPair(this.#options.dir);
    this.#current = fingerprint(pair);
    try {
      this.#watcher = watch(this.#options.dir, () => this.#schedule());
      this.#watcher.on('error', (err) => {
        this.#options.logger.warn(
          { err, dir: this.#options.dir },
          'admission: certificate watch failed; polling',
        );
      });
    } catch (err) {
      this.#options.logger.warn(
        { err, dir: this.#options.dir },
        'admission: cannot watch certificates; polling',
      );
    }
    this.#poll = setInterval(() => this.#schedule(), this.#options.pollIntervalMs);
    this.#poll.unref();
    return pair;
  }

  /** `reload` re-reads the pair now; resolves once done (tests and the poll use it). */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reloadOnce());
    return this.#reloading;
  }

  #schedule(): void {
    // A rotation writes several entries in a row; read once they have settled.
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.reload();
    }, 100);
    this.#debounce.unref();
  }

  async #reloadOnce(): Promise<void> {
    let pair: KeyPair;
    try {
      pair = await loadKeyPair(this.#options.dir);
    } catch (err) {
      // Mid-rotation or broken: keep serving the previous certificate; the next event retries.
      this.#options.logger.warn(
        { err, dir: this.#options.dir },
        'admission: cannot load certificate; keeping the current one',
      );
      return;
    }
    const print = fingerprint(pair);
    if (print === this.#current) return;
    this.#current = print;
    this.#options.onChange(pair);
    this.#options.logger.info({ dir: this.#options.dir }, 'admission: serving certificate reloaded');
  }

  /** `close` stops watching and polling. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
  }
}
