/**
 * `nginx` renders configs for and starts private nginx instances: the `return 200` backend and the
 * reverse-proxy baseline (c). Each instance lives in its own prefix directory, never touches the
 * system config, logs or port 80, and runs one worker in the foreground.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK, waitForHttp } from './net.js';
import { type Proc, spawnProc } from './procs.js';

export const NGINX_BIN = process.env['BENCH_NGINX'] ?? '/usr/sbin/nginx';

/** The body the backend answers with; the pre-flight check compares against it. */
export const BACKEND_BODY = 'hello from the bench backend\n';

/** `nginxVersion` returns e.g. `nginx/1.22.1` (nginx prints it on stderr). */
export function nginxVersion(): string {
  const r = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' });
  const text = `${r.stderr ?? ''}${r.stdout ?? ''}`;
  return /nginx\/\S+/.exec(text)?.[0] ?? 'nginx (unknown version)';
}

function common(dir: string): string {
  // master + 1 worker (as in production); `daemon off` keeps the master in our process group.
  // Temp paths point into `dir` so nothing under /var/lib/nginx is needed or touched.
  return `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; multi_accept on; }
`;
}

function httpCommon(dir: string): string {
  return `
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Reconnect churn (default 1000 requests per connection) would penalise every contender alike
  # and measure accept() rather than proxying; keep connections for the whole run.
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server_tokens off;
`;
}

/** `backendConfig` is nginx answering every request with 200 and a small fixed body. */
export function backendConfig(dir: string, port: number): string {
  return `${common(dir)}
http {
${httpCommon(dir)}
  server {
    listen ${LOOPBACK}:${port} default_server reuseport backlog=4096;
    location / {
      default_type text/plain;
      return 200 ${JSON.stringify(BACKEND_BODY)};
    }
  }
}
`;
}

/** `proxyConfig` is the nginx reverse-proxy baseline (c): one `server_name`, `location /` → upstream. */
export function proxyConfig(dir: string, port: number, host: string, backendPort: number): string {
  return `${common(dir)}
http {
${httpCommon(dir)}
  upstream bench_backend {
    server ${LOOPBACK}:${backendPort};
    keepalive 64;
  }
  server {
    listen ${LOOPBACK}:${port} backlog=4096;
    server_name ${host};
    location / {
      proxy_pass http://bench_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
  server {
    listen ${LOOPBACK}:${port} default_server;
    return 404;
  }
}
`;
}

/** `startNginx` writes `conf` into `dir`, starts nginx on `cpu` and waits until `probeUrl` answers 200. */
export async function startNginx(
  name: string,
  dir: string,
  conf: string,
  probe: { url: string; host?: string },
  cpu: string | undefined,
): Promise<Proc> {
  mkdirSync(dir, { recursive: true });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  // `-e` (nginx >= 1.19.5) keeps even the start-up error log out of /var/log/nginx.
  const proc = spawnProc(name, NGINX_BIN, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], {
    cpu,
    logFile: join(dir, 'stdout.log'),
  });
  let alive = true;
  void proc.exited.then(() => {
    alive = false;
  });
  try {
    await waitForHttp(probe.url, {
      ...(probe.host !== undefined ? { host: probe.host } : {}),
      timeoutMs: 10_000,
      alive: () => alive,
    });
  } catch (e) {
    await proc.stop();
    throw new Error(`${name} failed to start: ${(e as Error).message}\n${proc.tail()}`);
  }
  return proc;
}
