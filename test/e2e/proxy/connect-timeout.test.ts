/**
 * Connect timeouts cannot be provoked with a Node listener on loopback (Node accepts every
 * connection at once). A listener that never calls accept(), with its accept queue already full,
 * makes the kernel drop further SYNs: the client's connect hangs exactly as it does towards a dead
 * host, and the proxy's connect timeout fires.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane, warnings } from './harness.js';

const HOST = '127.0.0.7';
const NEVER_ACCEPTS = `
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

let listener: ChildProcess;
let port: number;
const fillers: Socket[] = [];
let h: Harness;

before(async () => {
  listener = spawn('python3', ['-c', NEVER_ACCEPTS, HOST], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  // Fill the accept queue (backlog 0 holds one established connection; take a few to be sure).
  for (let i = 0; i < 3; i++) {
    const s = connect({ host: HOST, port });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  h = await startDataPlane({
    upstream: { connectTimeoutMs: 300, maxTries: 1 },
    routes: snapshotOf([{ host: 'slow-connect.test', path: '/', backend: backendRef('slow') }]),
    endpoints: endpointsOf({ 'default/slow:80': [{ host: HOST, port }] }),
  });
});

after(async () => {
  await h.close();
  for (const s of fillers) s.destroy();
  listener.kill('SIGKILL');
});

test('a connect timeout towards the only endpoint answers 504 and is logged with its error code', async () => {
  const started = Date.now();
  const res = await request(h.ports.http, { path: '/', headers: { host: 'slow-connect.test' } });
  const elapsed = Date.now() - started;
  assert.equal(res.status, 504);
  assert.ok(elapsed >= 250, `answered after ${elapsed} ms, before the 300 ms connect timeout`);
  assert.ok(elapsed < 5_000, `answered after ${elapsed} ms: the connect timeout did not fire`);
  const logged = warnings(h.logs).filter((l) => JSON.stringify(l).includes('CONNECT_TIMEOUT'));
  assert.ok(logged.length >= 1, 'the failure is logged once with its code');
});
