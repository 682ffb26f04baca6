/**
 * `normalize` turns a request's Host header and request target into the keys the compiled
 * snapshot matches on. Pure: no I/O. The normalised path is used for MATCHING only; the data
 * plane forwards the original request target upstream unchanged, so a backend sees exactly what
 * the client sent (as ingress-nginx does with `$request_uri`).
 *
 * Why normalise at all: without it `/public/../admin`, `/public/%2e%2e/admin` or `//admin` would
 * slip past an `/admin` rule (and its future policies) while the backend resolves them to
 * `/admin` anyway.
 */

/**
 * `normalizeHost` lowercases a Host header value and strips a `:port` suffix and one trailing
 * dot. An IPv6 literal keeps its brackets (`[::1]:8080` → `[::1]`), so it can never collide with a
 * DNS name; an unbracketed value with several colons is not a valid Host and is returned
 * lowercased but otherwise untouched (it then matches no named host). A missing header gives `''`.
 */
export function normalizeHost(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '';
  let host = raw;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close !== -1) host = host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1 && host.indexOf(':', colon + 1) === -1) host = host.slice(0, colon);
  }
  if (host.length > 1 && host.charCodeAt(host.length - 1) === 0x2e /* . */) host = host.slice(0, -1);
  return host.toLowerCase();
}

/** `NormalizedPath` is the outcome of `normalizeRequestPath`: the matching path, or why the target is refused (→ 400). */
export type NormalizedPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

function fail(reason: string): NormalizedPath {
  return { ok: false, reason };
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

const HEX = '0123456789ABCDEF';

/**
 * Decodes only unreserved characters and uppercases the hex of every other escape, so
 * `%2e` → `.` (and then takes part in dot-segment removal) while `%2f` → `%2F` stays an
 * escaped slash: decoding it would invent a path separator the backend does not see.
 */
function decodeUnreserved(path: string): string | undefined {
  let out = '';
  let last = 0;
  let i = path.indexOf('%');
  while (i !== -1) {
    if (i + 2 >= path.length) return undefined;
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const code = hi * 16 + lo;
    out += path.slice(last, i);
    out += isUnreserved(code) ? String.fromCharCode(code) : '%' + HEX[hi] + HEX[lo];
    last = i + 3;
    i = path.indexOf('%', last);
  }
  return last === 0 ? path : out + path.slice(last);
}

/**
 * RFC 3986 §5.2.4 dot-segment removal on a path that starts with `/` and has no empty segments
 * except possibly the last. Returns undefined when `..` would climb above the root.
 */
function removeDotSegments(path: string): string | undefined {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i] as string;
    const isLast = i === segments.length - 1;
    if (seg === '.') {
      if (isLast) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (isLast) out.push('');
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/**
 * `normalizeRequestPath` turns a request target into the path used for matching: it drops the
 * query string (and any fragment), takes the path of an absolute-form target
 * (`http://host/p` → `/p`), percent-decodes unreserved characters only and uppercases the hex of
 * the other escapes, merges repeated slashes, and removes dot segments (RFC 3986 §5.2.4).
 * Refused (→ 400): invalid %-encoding, a path climbing above `/`, an asterisk-form or any other
 * target not starting with `/`.
 */
export function normalizeRequestPath(target: string): NormalizedPath {
  let path = target;
  if (path.charCodeAt(0) !== 0x2f /* / */) {
    const abs = ABSOLUTE_FORM.exec(path);
    if (abs === null) {
      return fail(path === '*' ? 'asterisk-form request target' : 'request target does not start with "/"');
    }
    const slash = path.indexOf('/', abs[0].length);
    const query = path.indexOf('?', abs[0].length);
    if (slash === -1 || (query !== -1 && query < slash)) {
      path = '/' + (query === -1 ? '' : path.slice(query));
    } else {
      path = path.slice(slash);
    }
  }
  const q = path.indexOf('?');
  if (q !== -1) path = path.slice(0, q);
  const h = path.indexOf('#');
  if (h !== -1) path = path.slice(0, h);

  // Fast path: most paths have nothing to normalise.
  if (path.indexOf('%') === -1 && path.indexOf('//') === -1 && path.indexOf('/.') === -1) {
    return { ok: true, path };
  }

  const decoded = decodeUnreserved(path);
  if (decoded === undefined) return fail('invalid percent-encoding in request path');
  const merged = decoded.indexOf('//') === -1 ? decoded : decoded.replace(/\/{2,}/g, '/');
  if (merged.indexOf('/.') === -1) return { ok: true, path: merged };
  const clean = removeDotSegments(merged);
  if (clean === undefined) return fail('request path climbs above "/"');
  return { ok: true, path: clean };
}
