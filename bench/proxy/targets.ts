/**
 * `targets` lists the six contenders of the issue, in its order: (a) direct, (b) Portico, (c) nginx,
 * (d) Fastify + @fastify/http-proxy, (e) node:http + undici Pool, (f) Fastify catch-all + undici Pool.
 */
import { join } from 'node:path';
import { freePort, LOOPBACK } from '../lib/net.js';
import { NGINX_BIN, proxyConfig, startNginx } from '../lib/nginx.js';
import { porticoTarget } from './portico.js';
import { startNodeBaseline, type Target, type TargetId } from './target.js';

const direct: Target = {
  id: 'direct',
  letter: 'a',
  label: 'direct to backend',
  skipReason: () => undefined,
  async start(ctx) {
    return { url: `http://${LOOPBACK}:${ctx.backendPort}/`, stop: async () => {} };
  },
};

const nginx: Target = {
  id: 'nginx',
  letter: 'c',
  label: 'nginx proxy',
  skipReason: () => undefined,
  async start(ctx) {
    const port = await freePort();
    const dir = join(ctx.workDir, 'nginx-proxy');
    const url = `http://${LOOPBACK}:${port}/`;
    const proc = await startNginx(
      'nginx-proxy',
      dir,
      proxyConfig(dir, port, ctx.host, ctx.backendPort),
      { url, host: ctx.host },
      ctx.proxyCpu,
    );
    return { url, proc, command: `${NGINX_BIN} -p ${dir} -c ${dir}/nginx.conf`, stop: () => proc.stop() };
  },
};

function nodeBaseline(id: TargetId, letter: string, label: string, script: string): Target {
  return {
    id,
    letter,
    label,
    skipReason: () => undefined,
    start: (ctx) => startNodeBaseline(id, script, ctx),
  };
}

/** `ALL_TARGETS` in report order. */
export const ALL_TARGETS: readonly Target[] = [
  direct,
  porticoTarget,
  nginx,
  nodeBaseline('fastify-http-proxy', 'd', 'Fastify + @fastify/http-proxy', 'fastify-http-proxy.ts'),
  nodeBaseline('node-undici', 'e', 'node:http + undici Pool', 'node-undici.ts'),
  nodeBaseline('fastify-undici', 'f', 'Fastify catch-all + undici Pool', 'fastify-undici.ts'),
];

/** `selectTargets` resolves `--only` entries (letters or ids) to targets, in report order. */
export function selectTargets(only: readonly string[] | undefined): Target[] {
  if (only === undefined || only.length === 0) return [...ALL_TARGETS];
  const wanted = new Set(only.map((s) => s.trim().toLowerCase()).filter((s) => s !== ''));
  for (const w of wanted) {
    if (!ALL_TARGETS.some((t) => t.id === w || t.letter === w)) {
      throw new Error(
        `unknown target ${JSON.stringify(w)}; use ${ALL_TARGETS.map((t) => `${t.letter}|${t.id}`).join(', ')}`,
      );
    }
  }
  return ALL_TARGETS.filter((t) => wanted.has(t.id) || wanted.has(t.letter));
}
