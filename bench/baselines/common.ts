/**
 * `common` holds what the hand-written baselines share: flag parsing and hop-by-hop header filtering
 * (RFC 9110 §7.6.1), so (e) and (f) do the minimum a correct HTTP/1.1 proxy must, and nothing more.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';

export interface BaselineArgs {
  readonly port: number;
  readonly host: string;
  /** Origin of the backend, e.g. `http://127.0.0.1:8080`. */
  readonly upstream: string;
}

/** `parseBaselineArgs` reads `--port P --upstream URL [--host H]`. */
export function parseBaselineArgs(argv: readonly string[] = process.argv.slice(2)): BaselineArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      upstream: { type: 'string' },
    },
  });
  if (values.port === undefined || values.upstream === undefined) {
    throw new Error('usage: --port <port> --upstream <origin> [--host 127.0.0.1]');
  }
  return { port: Number(values.port), host: values.host, upstream: values.upstream };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  // undici rejects `expect`; a proxy answers 100-continue itself.
  'expect',
]);

type HeaderValue = string | string[] | undefined;

/** `endToEnd` copies `headers` without hop-by-hop fields (and those named by `Connection`). */
export function endToEnd(
  headers: IncomingHttpHeaders | Record<string, HeaderValue>,
): Record<string, string | string[]> {
  const connection = headers['connection'];
  const named =
    typeof connection === 'string'
      ? connection
          .toLowerCase()
          .split(',')
          .map((t) => t.trim())
      : [];
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** `hasBody` says whether a request with this method may carry a body worth streaming. */
export function hasBody(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method === 'GET' || method === 'HEAD') {
    return headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
  }
  return true;
}

/** `announce` prints the line the runner waits for (it also polls the port). */
export function announce(name: string, args: BaselineArgs): void {
  process.stdout.write(`${name} listening on ${args.host}:${args.port} → ${args.upstream}\n`);
}

/** `exitOnSignal` exits at once on SIGTERM/SIGINT: benchmark processes have nothing to drain. */
export function exitOnSignal(): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
}
