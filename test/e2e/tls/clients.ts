/**
 * `clients` are the TLS and HTTP/2 clients of the TLS end-to-end tests: the openssl and curl
 * command-line tools (run asynchronously, so the test process keeps serving its backends), a
 * node:http2 session, and a plain TLS handshake.
 */
import { spawn } from 'node:child_process';
import { type ClientHttp2Session, connect as connectHttp2, type OutgoingHttpHeaders } from 'node:http2';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';

export interface ToolResult {
  readonly code: number | null;
  readonly output: string;
}

/**
 * `runTool` runs a command, feeds it nothing on stdin, closes stdin after `holdMs` (openssl
 * s_client reads TLS 1.3 session tickets only while it stays connected) and kills it after 10 s.
 */
export function runTool(command: string, args: readonly string[], holdMs = 0): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const hold = setTimeout(() => child.stdin.end(), holdMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(hold);
      clearTimeout(kill);
      resolve({ code, output });
    });
  });
}

export interface Handshake {
  /** False when the handshake failed. */
  readonly ok: boolean;
  /** `New` or `Reused` (openssl's session line), when it succeeded. */
  readonly session: 'New' | 'Reused' | undefined;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  readonly alpn: string | undefined;
  readonly output: string;
}

/** `sClient` runs `openssl s_client` against 127.0.0.1:`port` with SNI `servername` and `args`. */
export async function sClient(
  port: number,
  servername: string | undefined,
  args: readonly string[],
): Promise<Handshake> {
  const r = await runTool(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      ...(servername === undefined ? ['-noservername'] : ['-servername', servername]),
      ...args,
    ],
    300,
  );
  const line = /^(New|Reused), (\S+), Cipher is (\S+)/m.exec(r.output);
  const cipher = line?.[3];
  const ok = cipher !== undefined && cipher !== '(NONE)';
  return {
    ok,
    session: ok ? (line?.[1] as 'New' | 'Reused') : undefined,
    protocol: ok ? line?.[2] : undefined,
    cipher: ok ? cipher : undefined,
    alpn: /^ALPN protocol: (\S+)/m.exec(r.output)?.[1],
    output: r.output,
  };
}

/** `tlsHandshake` connects with node:tls and reports the protocol and ALPN, or the error. */
export function tlsHandshake(
  port: number,
  options: ConnectionOptions,
): Promise<{ protocol: string | null; alpn: string | false | null } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timeout')));
    socket.once('secureConnect', () => {
      const result = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol ?? null };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** `h2Session` opens an HTTP/2 session to 127.0.0.1:`port` with SNI `servername`. */
export function h2Session(port: number, servername: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('HTTP/2 connect timeout'));
    }, 5_000);
    session.once('connect', () => {
      clearTimeout(timer);
      resolve(session);
    });
    session.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface H2Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** `h2Request` sends one request on `session` (body optional) and buffers the answer, within 10 s. */
export function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    stream.setTimeout(10_000, () => stream.close());
    let status = 0;
    let got: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    stream.once('response', (h) => {
      status = Number(h[':status']);
      got = h as Record<string, string | string[] | undefined>;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve({ status, headers: got, body: Buffer.concat(chunks) }));
    stream.once('error', reject);
    stream.once('close', () => {
      if (status === 0) reject(new Error(`stream closed without a response (code ${stream.rstCode})`));
    });
    if (body !== undefined) stream.end(body);
  });
}
