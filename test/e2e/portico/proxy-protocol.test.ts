/**
 * PROXY protocol on the listeners, end to end through the real binary in file mode with
 * `--use-proxy-protocol true`: v1 and v2 headers before HTTP/1.1, before TLS (HTTP/1.1 and HTTP/2)
 * and before a WebSocket upgrade; the header's source is the client address the backend, the
 * access log and the trusted-proxy check see; connections without a valid header, or too slow with
 * it, are closed and counted; the ConfigMap key turns it off live (a PROXY line is then a 400).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { connect as h2Connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import type { GlobalSettings } from '../../../src/model/settings/types.js';
import type { Echo } from '../../support/backends.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type LogEntry,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from './helpers.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

const v1 = (line: string): Buffer => Buffer.from(`${line}\r\n`, 'latin1');

/** A v2 PROXY (or LOCAL) header over TCP/IPv4 or TCP/IPv6, with an optional TLV. */
function v2(source: string, options: { local?: boolean; tlv?: Buffer } = {}): Buffer {
  const ipv6 = source.includes(':');
  const block = Buffer.alloc(ipv6 ? 36 : 12);
  if (ipv6) {
    // 2001:db8::N only: enough for these tests.
    Buffer.from('20010db8', 'hex').copy(block, 0);
    block.writeUInt16BE(Number.parseInt(source.split('::')[1] ?? '0', 16), 14);
    block[31] = 1;
    block.writeUInt16BE(40_000, 32);
    block.writeUInt16BE(443, 34);
  } else {
    Buffer.from(source.split('.').map(Number)).copy(block, 0);
    Buffer.from([10, 0, 0, 1]).copy(block, 4);
    block.writeUInt16BE(40_000, 8);
    block.writeUInt16BE(443, 10);
  }
  const body = Buffer.concat([block, options.tlv ?? Buffer.alloc(0)]);
  const fixed = Buffer.from([options.local === true ? 0x20 : 0x21, ipv6 ? 0x21 : 0x11, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

/**
 * `proxied` opens a TCP connection whose first bytes are `header`. The write is queued before
 * anything the caller writes next (node:net flushes writes made while connecting in order), so
 * HTTP or TLS on top of it always follows the header.
 */
function proxied(port: number, header: Buffer): Socket {
  const socket = netConnect(port, '127.0.0.1');
  socket.write(header);
  return socket;
}

function overTls(raw: Socket, alpn: 'http/1.1' | 'h2'): TLSSocket {
  return tlsConnect({ socket: raw, servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: [alpn] });
}

interface Answer {
  readonly status: number;
  readonly echo: Echo | undefined;
}

/** One HTTP/1.1 GET on `socket` (or on the agent's socket); the echo when the answer is one. */
function http1(
  connection: { socket: Duplex } | { agent: Agent },
  path = '/',
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        path,
        headers: { host: 'a.test', ...headers },
        timeout: 10_000,
        ...('socket' in connection
          ? // No agent: node:http then takes the connection from createConnection.
            { createConnection: () => connection.socket as Socket }
          : { agent: connection.agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            echo: res.statusCode === 200 ? (JSON.parse(body) as Echo) : undefined,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 GET over `tls` (ALPN h2). */
async function http2(tls: TLSSocket, path = '/'): Promise<Answer & { readonly version: string }> {
  const session = h2Connect('https://a.test', { createConnection: () => tls });
  try {
    const stream = session.request({ ':path': path, ':authority': 'a.test' });
    const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const status = Number(headers[':status']);
    return {
      status,
      echo: status === 200 ? (JSON.parse(Buffer.concat(chunks).toString()) as Echo) : undefined,
      version: typeof tls.alpnProtocol === 'string' ? tls.alpnProtocol : 'none',
    };
  } finally {
    session.close();
  }
}

/**
 * `refused` writes `bytes` on a fresh connection and resolves with what came back by the time the
 * server closed it (bounded: a connection still open after 10 s fails the test).
 */
async function refused(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = netConnect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  socket.on('error', () => {});
  socket.write(bytes);
  let stillOpen = false;
  const timer = setTimeout(() => {
    stillOpen = true;
    socket.destroy();
  }, 10_000);
  await once(socket, 'close');
  clearTimeout(timer);
  assert.equal(stillOpen, false, 'Portico closed the connection');
  return Buffer.concat(received);
}

const realIp = (a: Answer): unknown => a.echo?.headers['x-real-ip'];
const forwardedFor = (a: Answer): unknown => a.echo?.headers['x-forwarded-for'];

describe('PROXY protocol on the listeners (--use-proxy-protocol)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const refusals = (pred: (e: LogEntry) => boolean = () => true): LogEntry[] =>
    portico.logs.filter((e) => e.msg === 'PROXY protocol header refused; connection closed' && pred(e));
  const accessLine = (requestId: string): LogEntry | undefined =>
    portico.logs.find((e) => e['type'] === 'access' && e['requestId'] === requestId);
  const rejectedMetric = async (reason: string): Promise<number> => {
    const body = (await get(portico.adminPort, '/metrics')).body;
    const m = body.match(
      new RegExp(`^portico_proxy_protocol_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm'),
    );
    return m === null ? 0 : Number(m[1]);
  };
  const proxyProtocol = async (): Promise<GlobalSettings['proxyProtocol']> =>
    (JSON.parse((await get(portico.adminPort, '/routes')).body) as { settings: GlobalSettings }).settings
      .proxyProtocol;

  before(async () => {
    pods = await startPods('web');
    const cert = makeCertificate('a.test');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'a.yaml': yamlOf(
        ingress('a').cls('portico').host('a.test').prefix('/', svc('web', 80)).tls('cert', 'a.test').build(),
        // Only clients in 203.0.113.0/24 may reach it: the TCP peer (127.0.0.1) never is one.
        ingress('only')
          .cls('portico')
          .annotate('nginx.ingress.kubernetes.io/allowlist-source-range', '203.0.113.0/24')
          .host('only.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'cert.yaml': yamlOf(tlsSecret('cert', cert)),
      'settings.yaml': settingsConfigMap({}),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: [
        '--configmap',
        'ingress/portico',
        '--use-proxy-protocol',
        'true',
        '--proxy-protocol-header-timeout',
        '1s',
        // 192.0.2.0/24 plays a CDN in front of the load balancer; the load balancer's own address
        // (the TCP peer, 127.0.0.1) is trusted by nobody.
        '--trusted-proxies',
        '192.0.2.0/24',
        '--ssl-redirect',
        'false',
        '--log-level',
        'debug',
      ],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('a v1 header before HTTP/1.1: the backend and the access log see its source as the client', async () => {
    const socket = proxied(portico.httpPort, v1('PROXY TCP4 203.0.113.7 10.0.0.1 40000 80'));
    const res = await http1({ socket }, '/', { 'x-request-id': 'pp-v1-http' });
    assert.equal(res.status, 200);
    assert.equal(realIp(res), '203.0.113.7');
    assert.equal(forwardedFor(res), '203.0.113.7');
    await waitUntil(() => accessLine('pp-v1-http') !== undefined, 5_000, 'the access line');
    assert.equal(accessLine('pp-v1-http')?.['client'], '203.0.113.7');
  });

  test('a v2 header with an IPv6 source and a TLV before HTTP/1.1: the source is the client', async () => {
    const tlv = Buffer.from([0x02, 0x00, 0x06, ...Buffer.from('a.test')]);
    const res = await http1({ socket: proxied(portico.httpPort, v2('2001:db8::7', { tlv })) });
    assert.equal(res.status, 200);
    assert.equal(realIp(res), '2001:db8::7');
    assert.equal(forwardedFor(res), '2001:db8::7');
  });

  test('every request of a keep-alive connection keeps the address of its header', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let opened = 0;
    Object.assign(agent, {
      createConnection: () => {
        opened++;
        return proxied(portico.httpPort, v1('PROXY TCP4 198.51.100.20 10.0.0.1 40000 80'));
      },
    });
    try {
      for (let i = 0; i < 3; i++) assert.equal(realIp(await http1({ agent })), '198.51.100.20');
      assert.equal(opened, 1, 'one connection carried all three');
    } finally {
      agent.destroy();
    }
  });

  test('a v1 header before TLS and HTTP/1.1 on the HTTPS listener: the source is the client', async () => {
    const tls = overTls(
      proxied(portico.httpsPort, v1('PROXY TCP4 203.0.113.8 10.0.0.1 40000 443')),
      'http/1.1',
    );
    const res = await http1({ socket: tls }, '/', { 'x-request-id': 'pp-v1-tls' });
    assert.equal(res.status, 200);
    assert.equal(realIp(res), '203.0.113.8');
    assert.equal(res.echo?.headers['x-forwarded-proto'], 'https');
    await waitUntil(() => accessLine('pp-v1-tls') !== undefined, 5_000, 'the access line');
    assert.equal(accessLine('pp-v1-tls')?.['client'], '203.0.113.8');
  });

  test('a v2 header before TLS and HTTP/2: HTTP/2 works and the source is the client', async () => {
    const tls = overTls(proxied(portico.httpsPort, v2('203.0.113.9')), 'h2');
    const res = await http2(tls);
    assert.equal(res.version, 'h2');
    assert.equal(res.status, 200);
    assert.equal(realIp(res), '203.0.113.9');
    assert.equal(forwardedFor(res), '203.0.113.9');
  });

  test('a v2 IPv6 header before TLS and HTTP/2: the IPv6 source is the client', async () => {
    const res = await http2(overTls(proxied(portico.httpsPort, v2('2001:db8::a')), 'h2'));
    assert.equal(res.status, 200);
    assert.equal(realIp(res), '2001:db8::a');
  });

  test('a header sent one byte per write is read whole before TLS starts', async () => {
    const header = v1('PROXY TCP4 203.0.113.10 10.0.0.1 40000 443');
    const raw = netConnect(portico.httpsPort, '127.0.0.1');
    raw.setNoDelay(true);
    await once(raw, 'connect');
    // Each byte handed to the kernel before the next is written: many small reads on the server.
    for (const byte of header) await new Promise((resolve) => raw.write(Buffer.from([byte]), resolve));
    const res = await http1({ socket: overTls(raw, 'http/1.1') });
    assert.equal(realIp(res), '203.0.113.10');
  });

  test('a v1 header before a WebSocket upgrade: the upgrade request carries its source', async () => {
    const ws = new WebSocket('ws://a.test/headers', {
      createConnection: () => proxied(portico.httpPort, v1('PROXY TCP4 203.0.113.11 10.0.0.1 40000 80')),
    });
    try {
      const [message] = (await once(ws, 'message')) as [Buffer];
      const echo = JSON.parse(message.toString()) as Echo;
      assert.equal(echo.headers['x-real-ip'], '203.0.113.11');
      assert.equal(echo.headers['x-forwarded-for'], '203.0.113.11');
    } finally {
      ws.terminate();
    }
  });

  const trustCases = [
    {
      name: 'from a PROXY source inside --trusted-proxies, X-Forwarded-For is kept and the source appended',
      source: '192.0.2.10',
      want: { xff: '6.6.6.6, 192.0.2.10', realIp: '6.6.6.6' },
    },
    {
      name: 'from a PROXY source outside --trusted-proxies, X-Forwarded-For is overwritten with the source',
      source: '203.0.113.12',
      want: { xff: '203.0.113.12', realIp: '203.0.113.12' },
    },
  ];
  for (const c of trustCases) {
    test(c.name, async () => {
      const socket = proxied(portico.httpPort, v1(`PROXY TCP4 ${c.source} 10.0.0.1 40000 80`));
      const res = await http1({ socket }, '/', { 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6' });
      assert.equal(forwardedFor(res), c.want.xff);
      assert.equal(realIp(res), c.want.realIp);
    });
  }

  const allowList = [
    { name: 'an allow-list admits a PROXY source inside it', source: '203.0.113.15', want: 200 },
    { name: 'an allow-list refuses a PROXY source outside it', source: '198.51.100.15', want: 403 },
  ];
  for (const c of allowList) {
    test(`${c.name}, whatever the TCP peer`, async () => {
      const socket = proxied(portico.httpPort, v1(`PROXY TCP4 ${c.source} 10.0.0.1 40000 80`));
      assert.equal((await http1({ socket }, '/', { host: 'only.test' })).status, c.want);
    });
  }

  const peerKept = [
    { name: 'a v1 UNKNOWN header keeps the TCP peer as the client', header: v1('PROXY UNKNOWN') },
    {
      name: 'a v2 LOCAL header keeps the TCP peer as the client',
      header: v2('203.0.113.13', { local: true }),
    },
  ];
  for (const c of peerKept) {
    test(c.name, async () => {
      const res = await http1({ socket: proxied(portico.httpPort, c.header) });
      assert.equal(res.status, 200);
      assert.equal(realIp(res), '127.0.0.1');
    });
  }

  test('a connection without a header is closed without an answer, logged at debug and counted', async () => {
    const before = await rejectedMetric('invalid');
    const from = refusals().length;
    const answer = await refused(portico.httpPort, Buffer.from('GET / HTTP/1.1\r\nhost: a.test\r\n\r\n'));
    assert.equal(answer.length, 0, 'no bytes, not even an error page');
    await waitUntil(() => refusals().length > from, 5_000, 'the refusal log line');
    const line = refusals().at(-1);
    assert.equal(line?.level, 20);
    assert.match(String(line?.['reason']), /does not start with a PROXY protocol header/);
    await waitUntil(async () => (await rejectedMetric('invalid')) === before + 1, 5_000, 'the counter');
  });

  test('a malformed v1 header is refused with its reason', async () => {
    const from = refusals().length;
    const answer = await refused(portico.httpPort, v1('PROXY TCP4 203.0.113.7 10.0.0.1 99999 80'));
    assert.equal(answer.length, 0);
    await waitUntil(() => refusals().length > from, 5_000, 'the refusal log line');
    assert.match(String(refusals().at(-1)?.['reason']), /source port "99999"/);
  });

  test('a TLS handshake without a header fails on the HTTPS listener', async () => {
    const before = await rejectedMetric('invalid');
    const tls = tlsConnect({
      port: portico.httpsPort,
      host: '127.0.0.1',
      servername: 'a.test',
      rejectUnauthorized: false,
    });
    const [err] = (await once(tls, 'error')) as [Error];
    assert.match(err.message, /socket disconnected|ECONNRESET|socket hang up/i);
    await waitUntil(async () => (await rejectedMetric('invalid')) === before + 1, 5_000, 'the counter');
  });

  test('a header that does not complete within proxy-protocol-header-timeout closes the connection', async () => {
    const before = await rejectedMetric('timeout');
    const from = refusals().length;
    const answer = await refused(portico.httpPort, Buffer.from('PROXY TCP4 203.0.113.7 '));
    assert.equal(answer.length, 0);
    await waitUntil(() => refusals().length > from, 5_000, 'the refusal log line');
    assert.match(String(refusals().at(-1)?.['reason']), /no complete header within 1000 ms/);
    assert.equal(await rejectedMetric('timeout'), before + 1);
  });

  test('the ConfigMap turns it off live: a PROXY line is then a 400, open connections go on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    Object.assign(agent, {
      createConnection: () => proxied(portico.httpPort, v1('PROXY TCP4 198.51.100.30 10.0.0.1 40000 80')),
    });
    try {
      assert.equal(realIp(await http1({ agent })), '198.51.100.30');
      await dir.write('settings.yaml', settingsConfigMap({ 'use-proxy-protocol': 'false' }));
      await waitUntil(async () => !(await proxyProtocol()).enabled, 10_000, 'use-proxy-protocol off');

      // The connection accepted while it was on keeps its client address.
      assert.equal(realIp(await http1({ agent })), '198.51.100.30');
      // New connections are plain HTTP again.
      const plain = await get(portico.httpPort, '/', { host: 'a.test' });
      assert.equal(plain.status, 200);
      assert.equal((JSON.parse(plain.body) as Echo).headers['x-real-ip'], '127.0.0.1');
      const line = await refused(
        portico.httpPort,
        Buffer.concat([
          v1('PROXY TCP4 203.0.113.7 10.0.0.1 40000 80'),
          Buffer.from('GET / HTTP/1.1\r\nhost: a.test\r\n\r\n'),
        ]),
      );
      assert.match(line.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);

      // Without the key, the flag's value applies again.
      await dir.write('settings.yaml', settingsConfigMap({}));
      await waitUntil(async () => (await proxyProtocol()).enabled, 10_000, 'use-proxy-protocol back on');
      const res = await http1({
        socket: proxied(portico.httpPort, v1('PROXY TCP4 203.0.113.14 10.0.0.1 1 80')),
      });
      assert.equal(realIp(res), '203.0.113.14');
    } finally {
      agent.destroy();
    }
  });
});
