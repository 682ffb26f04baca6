/**
 * Baseline (f): a minimal Fastify app with one catch-all route that streams through an undici
 * `Pool` (`pool.request`, body handed to `reply.send` as a stream). Body parsing is disabled so
 * request bodies stream too; logging is off, as it would be for any throughput comparison.
 */
import Fastify from 'fastify';
import { Pool } from 'undici';
import { announce, endToEnd, exitOnSignal, hasBody, parseBaselineArgs } from './common.js';

const args = parseBaselineArgs();
const pool = new Pool(args.upstream, { connections: 64, pipelining: 1 });

const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_req, _payload, done) => done(null));

app.all('/*', async (request, reply) => {
  const raw = request.raw;
  const upstream = await pool.request({
    path: raw.url ?? '/',
    method: raw.method ?? 'GET',
    headers: endToEnd(raw.headers),
    body: hasBody(raw.method, raw.headers) ? raw : null,
  });
  reply.code(upstream.statusCode).headers(endToEnd(upstream.headers));
  return reply.send(upstream.body);
});

await app.listen({ port: args.port, host: args.host });
announce('fastify-undici', args);

// The runner stops the load before it stops us, so there is nothing to drain.
exitOnSignal();
