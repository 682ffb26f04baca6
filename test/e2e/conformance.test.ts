/**
 * Runs every conformance case through the REAL portico process: the case's manifests go into a temp
 * folder with EndpointSlice addresses rewritten to real loopback echo backends (one per Service
 * port, named after the backend keys it serves), then each request must be answered by the
 * expected backend, or by the built-in 404.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import type { EndpointSlice, KubeObject } from '../../src/model/objects.js';
import { SERVICE_NAME_LABEL } from '../../src/model/objects.js';
import { translate } from '../../src/model/translate/translate.js';
import { allConformanceCases } from '../conformance/cases/index.js';
import { CONFORMANCE_OPTIONS, type ConformanceCase } from '../conformance/cases/types.js';
import { type Backend, startBackend } from '../support/backends.js';
import { inputFrom } from '../support/builders.js';
import { get, type HttpAnswer, manifestDir, startPortico } from '../support/portico-process.js';
import { yamlOf } from './portico/helpers.js';

/** Backends for one case: `"namespace/service"` → slice port name → running backend. */
type BackendIndex = Map<string, Map<string, Backend>>;

/**
 * `startCaseBackends` starts one backend per (Service, port name) that some backend key of the case
 * resolves to. Each Service gets its own 127.0.0.x address; its ports are the backends' ports.
 */
async function startCaseBackends(c: ConformanceCase): Promise<{ index: BackendIndex; all: Backend[] }> {
  const model = translate(inputFrom(c.manifests), { ...CONFORMANCE_OPTIONS, ...c.options });
  const refs = [
    ...model.routes.map((r) => r.backend),
    ...[...model.hostDefaults.values()].map((b) => b.backend),
  ];
  if (model.catchAll) refs.push(model.catchAll.backend);
  const names = new Map<string, Set<string>>();
  for (const ref of refs) {
    if (ref.target?.kind !== 'endpoints') continue;
    const id = `${ref.namespace}/${ref.service}\u0000${ref.target.servicePortName}`;
    const set = names.get(id) ?? new Set<string>();
    set.add(ref.key);
    names.set(id, set);
  }
  const index: BackendIndex = new Map();
  const all: Backend[] = [];
  const addresses = new Map<string, string>();
  try {
    for (const [id, keys] of [...names].sort()) {
      const [service = '', portName = ''] = id.split('\u0000');
      let host = addresses.get(service);
      if (host === undefined) {
        host = `127.0.0.${10 + addresses.size}`;
        addresses.set(service, host);
      }
      const backend = await startBackend({ name: [...keys].sort().join(','), host, port: 0 });
      all.push(backend);
      const ports = index.get(service) ?? new Map<string, Backend>();
      ports.set(portName, backend);
      index.set(service, ports);
    }
  } catch (err) {
    await Promise.all(all.map((b) => b.close()));
    throw err;
  }
  return { index, all };
}

/** `rewriteSlices` points every EndpointSlice of a Service at that Service's real backends. */
function rewriteSlices(manifests: readonly KubeObject[], index: BackendIndex): KubeObject[] {
  return manifests.map((o): KubeObject => {
    if (o.kind !== 'EndpointSlice') return o;
    const service = o.metadata.labels?.[SERVICE_NAME_LABEL];
    const ports = index.get(`${o.metadata.namespace ?? 'default'}/${service}`);
    const first = ports?.values().next().value;
    if (!ports || !first) return o;
    const slice: EndpointSlice = {
      ...o,
      endpoints: (o.endpoints ?? []).map((e) => ({ ...e, addresses: [first.host] })),
      ports: (o.ports ?? []).map((p) => {
        const b = ports.get(p.name ?? '');
        return b ? { ...p, port: b.port } : p;
      }),
    };
    return slice;
  });
}

/** `flagsFor` turns a case's option overrides into portico flags. */
function flagsFor(c: ConformanceCase): string[] {
  const o = { ...CONFORMANCE_OPTIONS, ...c.options };
  const flags = ['--controller-class', o.controllerClass, '--ingress-class', o.ingressClass];
  if (o.watchIngressWithoutClass) flags.push('--watch-ingress-without-class');
  const d = o.defaultBackendService;
  if (d) flags.push('--default-backend-service', `${d.namespace}/${d.name}:${d.port}`);
  return flags;
}

/**
 * `noHostRequest` sends an HTTP/1.0 request without a Host header (legal in 1.0; node's http
 * client always adds one), for cases whose request has no host.
 */
function noHostRequest(port: number, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.0\r\n\r\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: {}, body });
    });
  });
}

function answeredBy(res: HttpAnswer): string {
  if (res.status === 404) {
    try {
      JSON.parse(res.body);
    } catch {
      return 'not-found';
    }
  }
  if (res.status !== 200) return `status ${res.status}: ${res.body.slice(0, 200)}`;
  const echo = JSON.parse(res.body) as { name: string };
  return echo.name;
}

describe('conformance (real portico process)', () => {
  for (const c of allConformanceCases) {
    test(c.name, async (t) => {
      const { index, all } = await startCaseBackends(c);
      t.after(() => Promise.all(all.map((b) => b.close())));
      const dir = await manifestDir({ 'case.yaml': yamlOf(...rewriteSlices(c.manifests, index)) });
      t.after(() => dir.cleanup());
      const portico = await startPortico({ manifests: dir.dir, args: flagsFor(c) });
      t.after(() => portico.stop('SIGKILL'));
      for (const r of c.requests) {
        const label = `${r.host || '(no host)'} ${r.path} [${c.source}]`;
        const res =
          r.host === ''
            ? await noHostRequest(portico.httpPort, r.path)
            : await get(portico.httpPort, r.path, { host: r.host });
        const got = answeredBy(res);
        if (r.expect.backend === 'not-found') assert.equal(got, 'not-found', label);
        else
          assert.ok(
            got.split(',').includes(r.expect.backend),
            `${label}: answered by ${got}, want ${r.expect.backend}`,
          );
      }
    });
  }
});
