import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { IngressReport } from '../../../src/model/types.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type LogEntry,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  routedTo,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from './helpers.js';

/** Ingress `a` for host a.test, written by hand so line numbers are known. */
function ingressA(service: string, path = '/'): string {
  return [
    'apiVersion: networking.k8s.io/v1', // 1
    'kind: Ingress', // 2
    'metadata:', // 3
    '  name: a', // 4
    'spec:', // 5
    '  ingressClassName: portico', // 6
    '  rules:', // 7
    '  - host: a.test', // 8
    '    http:', // 9
    '      paths:', // 10
    `      - path: ${path}`, // 11: the value starts at column 15
    '        pathType: Prefix', // 12
    '        backend:', // 13
    '          service:', // 14
    `            name: ${service}`, // 15
    '            port: {number: 80}', // 16
    '',
  ].join('\n');
}

interface Routes {
  generation: number;
  diagnostics: Diagnostic[];
  ingresses: IngressReport[];
}

async function routes(p: PorticoProcess): Promise<Routes> {
  return JSON.parse((await get(p.adminPort, '/routes')).body) as Routes;
}

describe('live reload from file changes', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  const expectRoute = (host: string, path: string, want: string) =>
    waitUntil(
      async () => (await routedTo(portico.httpPort, host, path)) === want,
      10_000,
      `${host}${path} → ${want}`,
    );

  before(async () => {
    pods = await startPods('web', 'api', 'other');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'a.yaml': ingressA('web'),
      'c.yaml': yamlOf(ingress('c').cls('portico').host('c.test').prefix('/', svc('other', 80)).build()),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('serves the initial folder', async () => {
    assert.equal(await routedTo(portico.httpPort, 'a.test', '/'), 'web');
    assert.equal(await routedTo(portico.httpPort, 'c.test', '/'), 'other');
  });

  test('a new file adds routes', async () => {
    await dir.write(
      'sub/b.yaml',
      yamlOf(ingress('b').cls('portico').host('b.test').prefix('/', svc('api', 80)).build()),
    );
    await expectRoute('b.test', '/', 'api');
  });

  test('a modified file changes routes', async () => {
    await dir.write('a.yaml', ingressA('api'));
    await expectRoute('a.test', '/', 'api');
  });

  test('a deleted file removes its routes', async () => {
    await dir.remove('sub/b.yaml');
    await expectRoute('b.test', '/', 'status 404');
  });

  test('broken YAML is reported with file:line:column and the last good routes stay', async () => {
    const from = portico.logs.length;
    await dir.write('a.yaml', `${ingressA('web').replace('  rules:', '  rules: [')}`);
    const line = await portico.waitForLog(
      (e) => hasDiagnostic(e, 'PORTICO_ERR_MANIFEST_PARSE'),
      10_000,
      from,
    );
    const d = findDiagnostic(line, 'PORTICO_ERR_MANIFEST_PARSE');
    assert.match(d?.source ?? '', new RegExp(`^${escapeRegExp(join(dir.dir, 'a.yaml'))}:\\d+:\\d+$`));
    assert.match(d?.message ?? '', /document 0/);
    assert.equal(await routedTo(portico.httpPort, 'a.test', '/'), 'api', 'last good kept');
    assert.equal(await routedTo(portico.httpPort, 'c.test', '/'), 'other', 'other routes unaffected');
    const r = await routes(portico);
    assert.ok(r.diagnostics.some((x) => x.code === 'PORTICO_ERR_MANIFEST_PARSE' && x.source === d?.source));
  });

  test('an invalid path is rejected at its line and column; the Ingress serves its last good version', async () => {
    const from = portico.logs.length;
    await dir.write('a.yaml', ingressA('web', 'no-slash'));
    const line = await portico.waitForLog((e) => hasDiagnostic(e, 'PORTICO_ERR_PATH_INVALID'), 10_000, from);
    const d = findDiagnostic(line, 'PORTICO_ERR_PATH_INVALID');
    assert.equal(d?.source, `${join(dir.dir, 'a.yaml')}:11:15`);
    assert.equal(d?.object, 'Ingress default/a');
    assert.equal(d?.field, 'spec.rules[0].http.paths[0].path');
    assert.deepEqual(line['servingLastGood'], ['default/a']);
    // The parse error is gone: the file parses again.
    assert.equal(findDiagnostic(line, 'PORTICO_ERR_MANIFEST_PARSE'), undefined);
    assert.equal(await routedTo(portico.httpPort, 'a.test', '/'), 'api', 'last good version of a');
    assert.equal(await routedTo(portico.httpPort, 'c.test', '/'), 'other');
    const r = await routes(portico);
    const report = r.ingresses.find((i) => i.ingress === 'default/a');
    assert.equal(report?.state, 'rejected');
    assert.equal(report?.servingLastGood, true);
    assert.ok(r.diagnostics.some((x) => x.code === 'PORTICO_ERR_PATH_INVALID' && x.source === d?.source));
  });

  test('fixing the file applies it and clears the diagnostics', async () => {
    await dir.write('a.yaml', ingressA('other'));
    await expectRoute('a.test', '/', 'other');
    await waitUntil(async () => (await routes(portico)).diagnostics.length === 0, 5_000, 'no diagnostics');
    const r = await routes(portico);
    assert.equal(r.ingresses.find((i) => i.ingress === 'default/a')?.state, 'served');
  });

  test('an EndpointSlice-only change takes the fast path', async () => {
    const web = pods.backends.get('web');
    assert.ok(web);
    const from = portico.logs.length;
    // Service "other" now has the "web" pod as its only endpoint.
    const objects = pods.objects.map((o) =>
      o.kind === 'EndpointSlice' && o.metadata.name === 'other-1'
        ? {
            ...o,
            endpoints: [{ addresses: [web.host], conditions: { ready: true } }],
            ports: [{ name: '', port: web.port }],
          }
        : o,
    );
    await dir.write('services.yaml', yamlOf(...objects));
    await expectRoute('a.test', '/', 'web');
    const line = await portico.waitForLog((e) => e.msg === 'endpoints loaded', 5_000, from);
    assert.equal(line['endpointsChanged'], true);
    assert.equal(
      portico.logs.slice(from).some((e) => typeof e.msg === 'string' && e.msg.startsWith('config loaded')),
      false,
      'routes were not re-translated',
    );
  });

  test('one log line per load, with a growing generation', () => {
    const loads = portico.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('config loaded'));
    assert.ok(loads.length >= 6, `${loads.length} loads`);
    const generations = loads.map((l) => Number(l['generation']));
    assert.deepEqual(
      generations,
      [...generations].sort((a, b) => a - b),
    );
    assert.equal(portico.child.exitCode, null, 'still running');
  });
});

function diagnosticsOf(e: LogEntry): Diagnostic[] {
  const rejected = e['rejected'];
  return Array.isArray(rejected) ? (rejected as Diagnostic[]) : [];
}

function hasDiagnostic(e: LogEntry, code: string): boolean {
  return diagnosticsOf(e).some((d) => d.code === code);
}

function findDiagnostic(e: LogEntry, code: string): Diagnostic | undefined {
  return diagnosticsOf(e).find((d) => d.code === code);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
