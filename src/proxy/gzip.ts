/**
 * `gzip` is ingress-nginx's `use-gzip` (nginx's gzip filter with `gzip_proxied any` and
 * `gzip_vary on`): a proxied response is compressed when the client accepts gzip, its type is in
 * `gzip-types`, it is not encoded already and not known to be shorter than `gzip-min-length`.
 *
 * The decision and the header rewrite are pure (`gzipDecision`, `gzipHeaders`); `GzipRelay` streams
 * the body through node:zlib with backpressure both ways. Each upstream chunk is flushed
 * (Z_SYNC_FLUSH) so a streamed response (a log tail, a long poll) is not held back waiting for
 * more input, at a small cost in ratio.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { constants, createGzip, type Gzip } from 'node:zlib';

/** `GzipSettings` are the ConfigMap's gzip keys, ready for the request path. */
export interface GzipSettings {
  /** `gzip-level`, 1–9. */
  readonly level: number;
  /** `gzip-min-length`: bytes; a response with a smaller Content-Length is sent as it is. */
  readonly minLength: number;
  /** `gzip-types`: MIME types (lowercase, no parameters); `*` compresses every type. */
  readonly types: ReadonlySet<string>;
}

/** `acceptsGzip` reads Accept-Encoding as nginx does: `gzip` (or `x-gzip`, `*`) with a q above 0. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** `headerOf` finds a header value in a flat `[name, value, …]` list (case-insensitive name). */
function headerOf(headers: readonly string[], lower: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === lower) return headers[i + 1];
  }
  return undefined;
}

/**
 * `gzipDecision` says whether to compress a response with `status` and the (already filtered)
 * response `headers` to a request with `method` and `requestHeaders`.
 */
export function gzipDecision(
  settings: GzipSettings,
  method: string | undefined,
  requestHeaders: IncomingHttpHeaders,
  status: number,
  headers: readonly string[],
): boolean {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304) return false;
  if (!acceptsGzip(requestHeaders['accept-encoding'])) return false;
  const encoding = headerOf(headers, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false;
  const type = (headerOf(headers, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!settings.types.has('*') && !settings.types.has(type)) return false;
  const length = headerOf(headers, 'content-length');
  if (length !== undefined && Number(length) < settings.minLength) return false;
  return true;
}

/**
 * `gzipHeaders` rewrites response headers for a gzip body: no Content-Length (the length changes),
 * `Content-Encoding: gzip`, `Accept-Encoding` added to Vary, and a strong ETag made weak (the
 * bytes differ from the upstream's), as nginx does.
 */
export function gzipHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  let vary = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    let value = headers[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'content-encoding') continue;
    if (lower === 'etag' && !value.startsWith('W/')) value = `W/${value}`;
    if (lower === 'vary') {
      vary = true;
      const tokens = value.split(',').map((t) => t.trim().toLowerCase());
      if (!tokens.includes('accept-encoding') && !tokens.includes('*')) value = `${value}, Accept-Encoding`;
    }
    out.push(name, value);
  }
  out.push('content-encoding', 'gzip');
  if (!vary) out.push('vary', 'Accept-Encoding');
  return out;
}

/** What `GzipRelay` writes to: the client response. */
export interface GzipSink {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * `GzipRelay` compresses a body on its way to `sink`. `write` answers false when the upstream
 * should pause; `onResume` is called when it may go on. `end` calls `done` once everything is out.
 */
export class GzipRelay {
  readonly #gzip: Gzip;
  #waiting = false;

  constructor(level: number, sink: GzipSink, onBytes: (n: number) => void, onResume: () => void) {
    this.#gzip = createGzip({ level });
    this.#gzip.on('data', (chunk: Buffer) => {
      onBytes(chunk.length);
      if (!sink.write(chunk)) {
        this.#gzip.pause();
        sink.once('drain', () => this.#gzip.resume());
      }
    });
    this.#gzip.on('drain', () => {
      if (!this.#waiting) return;
      this.#waiting = false;
      onResume();
    });
    // zlib only fails on its own input, which is ours; a failure ends the response early.
    this.#gzip.on('error', () => undefined);
  }

  /** `write` compresses a chunk; false: pause the upstream until `onResume`. */
  write(chunk: Buffer): boolean {
    const more = this.#gzip.write(chunk);
    this.#gzip.flush(constants.Z_SYNC_FLUSH);
    if (!more) this.#waiting = true;
    return more;
  }

  /** `end` finishes the stream; `done` runs after the last compressed byte went to the sink. */
  end(done: () => void): void {
    this.#gzip.once('end', done);
    this.#gzip.end();
  }

  destroy(): void {
    this.#gzip.destroy();
  }
}
