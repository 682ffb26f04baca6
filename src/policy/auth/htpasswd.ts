/**
 * `htpasswd` reads the users of a Basic-auth Secret: an htpasswd file (`auth-secret-type:
 * auth-file`, the Secret's `auth` key) or one key per user (`auth-map`). Each hash becomes a
 * `Verifier`; lines Portico cannot check are reported with their line number and left out, so a
 * bad line locks out its user, never everyone, and never crashes the reader.
 *
 * Schemes, as nginx's `auth_basic_user_file` reads them on Linux:
 *   - bcrypt `$2y$`, `$2a$`, `$2b$` (what `htpasswd -B` writes); bcryptjs 3 accepts all three
 *     prefixes as they are, so no prefix rewrite is needed.
 *   - Apache MD5 `$apr1$` (what `htpasswd` and `openssl passwd -apr1` write) and its parent
 *     md5crypt `$1$` (glibc `crypt`), computed here with node:crypto's MD5.
 *   - `{SHA}` (base64 SHA-1, `htpasswd -s`).
 * Refused with a reason: `{PLAIN}`, `{SSHA}`, SHA-crypt `$5$`/`$6$`, DES crypt, anything else.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** `Verifier` is one user's stored hash, checked by `verifyPassword`. */
export type Verifier =
  | { readonly scheme: 'bcrypt'; readonly hash: string }
  | {
      readonly scheme: 'md5crypt';
      readonly hash: string;
      readonly magic: '$apr1$' | '$1$';
      readonly salt: string;
    }
  | { readonly scheme: 'sha1'; readonly hash: string; readonly digest: Buffer };

/** `HtpasswdProblem` is a line (auth-file) or key (auth-map) that was left out, and why. */
export interface HtpasswdProblem {
  /** 1-based line of the file (auth-file). */
  readonly line?: number;
  /** The Secret key (auth-map). */
  readonly key?: string;
  readonly reason: string;
}

/** `Htpasswd` is one parsed Secret. */
export interface Htpasswd {
  readonly users: ReadonlyMap<string, Verifier>;
  readonly problems: readonly HtpasswdProblem[];
}

const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const MD5CRYPT = /^(\$apr1\$|\$1\$)([^$]{0,8})\$([./0-9A-Za-z]{22})$/;
const SHA1 = /^\{SHA\}([A-Za-z0-9+/]{27}=)$/;

/** `parseHash` turns one stored hash into a verifier, or says why it cannot. */
export function parseHash(hash: string): { ok: true; verifier: Verifier } | { ok: false; reason: string } {
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt !== null) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > 31) return { ok: false, reason: `bcrypt cost ${cost} is outside 4..31` };
    return { ok: true, verifier: { scheme: 'bcrypt', hash } };
  }
  const md5 = MD5CRYPT.exec(hash);
  if (md5 !== null) {
    const magic = md5[1] === '$apr1$' ? '$apr1$' : '$1$';
    return { ok: true, verifier: { scheme: 'md5crypt', hash, magic, salt: md5[2] ?? '' } };
  }
  const sha = SHA1.exec(hash);
  if (sha !== null) {
    return { ok: true, verifier: { scheme: 'sha1', hash, digest: Buffer.from(sha[1] ?? '', 'base64') } };
  }
  return { ok: false, reason: unsupportedReason(hash) };
}

function unsupportedReason(hash: string): string {
  if (hash === '') return 'empty password hash';
  if (hash.startsWith('{PLAIN}'))
    return 'plain-text passwords ({PLAIN}) are not supported; use htpasswd -B (bcrypt)';
  if (hash.startsWith('{SSHA}')) return 'salted SHA-1 ({SSHA}) is not supported; use htpasswd -B (bcrypt)';
  if (/^\$[56]\$/.test(hash)) return 'SHA-crypt ($5$/$6$) is not supported; use htpasswd -B (bcrypt)';
  if (/^\$2[abxy]?\$/.test(hash)) return 'malformed bcrypt hash (or the unsupported $2x$ variant)';
  if (hash.startsWith('$apr1$') || hash.startsWith('$1$')) return 'malformed MD5 hash';
  if (hash.startsWith('{SHA}')) return 'malformed {SHA} hash (expected base64 of 20 bytes)';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'DES crypt is not supported; use htpasswd -B (bcrypt)';
  return 'unrecognised password hash (plain text?); use htpasswd -B (bcrypt)';
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const text = (data: string | Uint8Array): string => (typeof data === 'string' ? data : decoder.decode(data));

/**
 * `parseHtpasswd` reads an htpasswd file (`user:hash[:comment]` lines, as nginx reads them). Blank
 * lines and `#` comments are skipped; CRLF files are fine. When a user appears twice the first
 * line wins (nginx stops at the first match) and the later one is reported.
 */
export function parseHtpasswd(file: string | Uint8Array): Htpasswd {
  const users = new Map<string, Verifier>();
  const problems: HtpasswdProblem[] = [];
  const lines = text(file).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    const n = i + 1;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon === -1) {
      problems.push({ line: n, reason: 'expected "user:hash"' });
      continue;
    }
    const user = line.slice(0, colon);
    // nginx allows a third field (a comment) after the hash; no supported hash contains ':'.
    const rest = line.slice(colon + 1);
    const end = rest.indexOf(':');
    const hash = (end === -1 ? rest : rest.slice(0, end)).trim();
    add(users, problems, user, hash, { line: n });
  }
  return { users, problems };
}

/**
 * `parseAuthMap` reads `auth-map` Secret data: each key a user, each value the user's hash
 * (trailing whitespace and newlines from `--from-file` are dropped). Keys are read in sorted order
 * so problems come out the same way every time.
 */
export function parseAuthMap(data: Readonly<Record<string, string | Uint8Array>>): Htpasswd {
  const users = new Map<string, Verifier>();
  const problems: HtpasswdProblem[] = [];
  for (const key of Object.keys(data).sort()) {
    const raw = data[key];
    if (raw === undefined) continue;
    add(users, problems, key, text(raw).trim(), { key });
  }
  return { users, problems };
}

function add(
  users: Map<string, Verifier>,
  problems: HtpasswdProblem[],
  user: string,
  hash: string,
  where: { line: number } | { key: string },
): void {
  // RFC 7617: the user-id cannot contain ':' (the first ':' of the credentials ends it) nor controls.
  if (user === '') return void problems.push({ ...where, reason: 'empty user name' });
  if (user.includes(':')) return void problems.push({ ...where, reason: 'user names cannot contain ":"' });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters.
  if (/[\x00-\x1f\x7f]/.test(user))
    return void problems.push({ ...where, reason: 'control character in user name' });
  if (users.has(user)) {
    return void problems.push({
      ...where,
      reason: `duplicate user ${JSON.stringify(user)}: the first entry is used`,
    });
  }
  const parsed = parseHash(hash);
  if (!parsed.ok)
    return void problems.push({ ...where, reason: `user ${JSON.stringify(user)}: ${parsed.reason}` });
  users.set(user, parsed.verifier);
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function to64(value: number, chars: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < chars; i++) {
    out += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return out;
}

const md5 = (...parts: readonly Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * `md5crypt` is Poul-Henning Kamp's MD5 crypt as Apache's `apr_md5_encode` writes it (`$apr1$`)
 * and glibc's `crypt` (`$1$`): the two differ only in the magic string. 1,000 MD5 rounds, about
 * 1.2 ms of event-loop time here (one `createHash` per round), which is why the verified-credential
 * cache in `basic.ts` covers this scheme too.
 */
export function md5crypt(password: string, salt: string, magic: '$apr1$' | '$1$' = '$apr1$'): string {
  const pw = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, 8), 'utf8');
  const m = Buffer.from(magic, 'utf8');
  const alt = md5(pw, s, pw);
  const ctx = createHash('md5');
  ctx.update(pw);
  ctx.update(m);
  ctx.update(s);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alt.subarray(0, Math.min(16, left)));
  // The reference implementation's quirk: a zero byte for each 1 bit, the first password byte for each 0.
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.of(0) : pw.subarray(0, 1));
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? pw : final);
    if (i % 3 !== 0) round.update(s);
    if (i % 7 !== 0) round.update(pw);
    round.update(i & 1 ? final : pw);
    final = round.digest();
  }
  const b = (i: number): number => final[i] ?? 0;
  const encoded =
    to64((b(0) << 16) | (b(6) << 8) | b(12), 4) +
    to64((b(1) << 16) | (b(7) << 8) | b(13), 4) +
    to64((b(2) << 16) | (b(8) << 8) | b(14), 4) +
    to64((b(3) << 16) | (b(9) << 8) | b(15), 4) +
    to64((b(4) << 16) | (b(10) << 8) | b(5), 4) +
    to64(b(11), 2);
  return `${magic}${salt.slice(0, 8)}$${encoded}`;
}

/** `BcryptCompare` is bcryptjs's async `compare` (injected so tests can count calls). */
export type BcryptCompare = (password: string, hash: string) => Promise<boolean>;

/**
 * `verifyPassword` checks a password against a verifier. MD5 and SHA-1 results are compared with
 * `timingSafeEqual` over equal-length buffers; bcrypt goes to `compareBcrypt` (bcryptjs compares
 * in constant time itself). Never throws: a failing bcrypt implementation counts as a mismatch.
 */
export async function verifyPassword(
  verifier: Verifier,
  password: string,
  compareBcrypt: BcryptCompare,
): Promise<boolean> {
  switch (verifier.scheme) {
    case 'bcrypt':
      try {
        return await compareBcrypt(password, verifier.hash);
      } catch {
        return false;
      }
    case 'md5crypt': {
      const got = Buffer.from(md5crypt(password, verifier.salt, verifier.magic), 'utf8');
      const want = Buffer.from(verifier.hash, 'utf8');
      return got.length === want.length && timingSafeEqual(got, want);
    }
    case 'sha1': {
      const got = createHash('sha1').update(password, 'utf8').digest();
      return got.length === verifier.digest.length && timingSafeEqual(got, verifier.digest);
    }
  }
}
