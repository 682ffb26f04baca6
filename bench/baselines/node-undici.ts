/**
 * Baseline (e): a bare `node:http` server that forwards every request through one undici `Pool`
 * with `pool.stream`, writing the upstream body straight into the client response.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { announce, endToEnd, exitOnSignal, hasBody, parseBaselineArgs } from './common.js';

const args = parseBaselineArgs();
const pool = new Pool(args.upstream, { connections: 64, pipelining: 1 });

const server = createServer((req, res) => {
  pool
    .stream(
      {
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: endToEnd(req.headers),
        body: hasBody(req.method, req.headers) ? req : null,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, endToEnd(headers));
        return res;
      },
    )
    .catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`bad gateway: ${(err as Error).message}\n`);
      } else {
        res.destroy();
      }
    });
});
server.keepAliveTimeout = 75_000;
server.listen(args.port, args.host, () => announce('node-undici', args));

// The runner stops the load before it stops us, so there is nothing to drain.
exitOnSignal();
