/**
 * `never-accepts` makes connect timeouts happen on loopback. Node accepts every connection at
 * once, so a tiny Python listener that never calls accept() stands in; once its accept queue is
 * full the kernel drops further SYNs and a client's connect hangs exactly as towards a dead host.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

const NEVER_ACCEPTS = `
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

export interface SilentListener {
  readonly host: string;
  readonly port: number;
  close(): void;
}

/** `startNeverAcceptingListener` binds `host` on a free port and fills its accept queue. */
export async function startNeverAcceptingListener(host: string): Promise<SilentListener> {
  const child = spawn('python3', ['-c', NEVER_ACCEPTS, host], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  // Backlog 0 holds one established connection; take a few to be sure the queue is full.
  const fillers: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const s = connect({ host, port });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    host,
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
