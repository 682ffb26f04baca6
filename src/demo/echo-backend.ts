/**
 * `echo-backend` is the demo's stand-in for application pods: a tiny HTTP server that answers with
 * which "pod" served the request and what it received, so routing decisions are visible.
 */
import { createServer, type Server } from 'node:http';

export interface EchoBackendOptions {
  /** The pod name reported in every answer, e.g. `web-1`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** `EchoBackend` is a running echo server. */
export interface EchoBackend {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `startEchoBackend` listens on `host:port` and answers every request with JSON (or plain text when
 * the client asks for `text/plain`): pod name, method, host, path and headers. It rejects with a
 * readable error when the port is taken.
 */
export function startEchoBackend(options: EchoBackendOptions): Promise<EchoBackend> {
  const server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      const answer = {
        pod: options.name,
        name: options.name,
        method: req.method ?? '',
        host: req.headers.host ?? '',
        path: url.pathname,
        url: req.url ?? '',
        headers: req.headers,
        bodyBytes,
      };
      if ((req.headers.accept ?? '').includes('text/plain')) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`pod ${answer.pod} answered ${answer.method} ${answer.host}${answer.url}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(answer, null, 2)}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${where} is already in use (another demo still running?); stop whatever uses it and retry`
            : `cannot listen on ${where}: ${err.message}`,
        ),
      );
    });
    server.listen(options.port, options.host, () => {
      resolve({
        name: options.name,
        url: `http://${options.host}:${options.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
