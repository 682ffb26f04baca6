/**
 * `net` has the port and HTTP helpers: free loopback ports, readiness polling and the
 * pre-flight check that a target really answers the bench request with 200.
 */
import { createServer } from 'node:net';
import { request } from 'undici';

export const LOOPBACK = '127.0.0.1';

/** `freePort` binds port 0 on loopback and returns the port the kernel picked. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  /** Response headers, names lowercase. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** `httpGet` does one GET with an explicit Host header (plus `extra` headers) and a short timeout. */
export async function httpGet(
  url: string,
  host?: string,
  timeoutMs = 2000,
  extra: Readonly<Record<string, string>> = {},
): Promise<HttpAnswer> {
  const res = await request(url, {
    method: 'GET',
    headers: { ...extra, ...(host !== undefined ? { host } : {}) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const body = await res.body.text();
  return { status: res.statusCode, body, headers: res.headers };
}

/**
 * `waitForHttp` polls `url` until it answers 200, the process dies (`alive` false) or `timeoutMs` ends.
 * Throws with the last observation, so a failing start says why.
 */
export async function waitForHttp(
  url: string,
  opts: { host?: string; timeoutMs: number; alive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (opts.alive !== undefined && !opts.alive()) throw new Error(`process exited while waiting for ${url}`);
    try {
      const r = await httpGet(url, opts.host, 1000);
      if (r.status === 200) return;
      last = `status ${r.status}: ${r.body.slice(0, 200)}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${opts.timeoutMs} ms (last: ${last})`);
}

/**
 * `preflight` sends a few bench requests and demands 200 with the backend's body, so a proxy that
 * answers 3xx/404 (which wrk would not count as errors) is caught before any load runs.
 */
export async function preflight(
  url: string,
  host: string,
  expectBody: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<HttpAnswer> {
  let last: HttpAnswer | undefined;
  for (let i = 0; i < 3; i++) {
    const r = await httpGet(url, host, 2000, extra);
    last = r;
    if (r.status !== 200 || r.body !== expectBody) {
      throw new Error(
        `pre-flight GET ${url} (Host: ${host}) answered ${r.status} ${JSON.stringify(r.body.slice(0, 200))}, ` +
          `expected 200 ${JSON.stringify(expectBody)}`,
      );
    }
  }
  return last as HttpAnswer;
}
