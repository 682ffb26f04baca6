/**
 * Baseline (d): a plain Fastify server with `@fastify/http-proxy` and its defaults (it proxies via
 * `@fastify/reply-from`, which uses an undici pool). Logging is off.
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { announce, exitOnSignal, parseBaselineArgs } from './common.js';

const args = parseBaselineArgs();
const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });
await app.register(proxy, { upstream: args.upstream, http2: false });
await app.listen({ port: args.port, host: args.host });
announce('fastify-http-proxy', args);

// The runner stops the load before it stops us, so there is nothing to drain.
exitOnSignal();
