import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { SourceChange } from '../../../src/controller/source.js';
import { convertDocument } from '../../../src/files/convert.js';
import { FileSource } from '../../../src/files/source.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { KubeKind } from '../../../src/model/objects.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-files-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

function source(dir: string, changes: SourceChange[] = []): FileSource {
  return new FileSource({
    dir,
    ingressClass: 'portico',
    controllerClass: 'portico.dev/ingress-controller',
    logger: silentLogger(),
    onChange: (c) => changes.push(c),
  });
}

function names(src: FileSource, kind: KubeKind): string[] {
  return src.store.keys(kind).sort();
}

const SERVICE = (name: string, ns?: string) =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  ports:\n  - port: 80\n`;

describe('convertDocument', () => {
  const cases = [
    {
      name: 'namespaced kinds default to namespace default',
      value: { kind: 'Service', metadata: { name: 's' } },
      want: 'object default/s',
    },
    {
      name: 'IngressClass is cluster-scoped',
      value: { kind: 'IngressClass', metadata: { name: 'c', namespace: 'x' } },
      want: 'object c',
    },
    {
      name: 'unknown kinds are skipped',
      value: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } },
      want: 'skipped apps/v1 Deployment',
    },
    { name: 'a List is unpacked', value: { kind: 'List', items: [{}, {}] }, want: 'list 2' },
    { name: 'no kind is invalid', value: { metadata: { name: 'x' } }, want: 'invalid kind' },
    { name: 'a scalar document is invalid', value: 'hello', want: 'invalid ' },
    {
      name: 'no metadata.name is invalid',
      value: { kind: 'Service', metadata: {} },
      want: 'invalid metadata.name',
    },
    {
      name: 'a numeric label value is invalid',
      value: { kind: 'Service', metadata: { name: 's', labels: { a: 1 } } },
      want: 'invalid metadata.labels["a"]',
    },
    {
      name: 'a string port is invalid',
      value: { kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: '80' }] } },
      want: 'invalid spec.ports[0].port',
    },
    {
      name: 'an EndpointSlice needs addressType',
      value: { kind: 'EndpointSlice', metadata: { name: 'e' } },
      want: 'invalid addressType',
    },
    {
      name: 'endpoint addresses must be strings',
      value: {
        kind: 'EndpointSlice',
        metadata: { name: 'e' },
        addressType: 'IPv4',
        endpoints: [{ addresses: [1] }],
      },
      want: 'invalid endpoints[0].addresses[0]',
    },
    {
      name: 'an Ingress spec is left to validateIngress',
      value: { kind: 'Ingress', metadata: { name: 'i' }, spec: { rules: 'nope' } },
      want: 'object default/i',
    },
    {
      name: 'an Ingress spec must still be an object',
      value: { kind: 'Ingress', metadata: { name: 'i' }, spec: [] },
      want: 'invalid spec',
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const r = convertDocument(c.value);
      const got =
        r.kind === 'object'
          ? `object ${r.object.metadata.namespace ? `${r.object.metadata.namespace}/` : ''}${r.object.metadata.name}`
          : r.kind === 'skipped'
            ? `skipped ${r.what}`
            : r.kind === 'list'
              ? `list ${r.items.length}`
              : `invalid ${r.field}`;
      assert.equal(got, c.want);
    });
  }

  test('status and unknown fields are dropped', () => {
    const r = convertDocument({
      kind: 'Service',
      metadata: { name: 's', x: 1 },
      spec: { y: 2, ports: [] },
      status: {},
    });
    assert.deepEqual(r, {
      kind: 'object',
      object: { kind: 'Service', metadata: { name: 's', namespace: 'default' }, spec: { ports: [] } },
    });
  });
});

describe('FileSource', () => {
  test('loads multi-document files, Lists, JSON and nested folders; skips other files', async () => {
    const dir = await tempDir({
      'a.yaml': `${SERVICE('one')}---\n---\n${SERVICE('two', 'ns')}`,
      'sub/b.yml': `kind: List\nitems:\n- ${SERVICE('three').replaceAll('\n', '\n  ')}`,
      'c.json': JSON.stringify({ kind: 'Service', metadata: { name: 'four' } }),
      'readme.txt': 'kind: Service\nmetadata: {name: nope}\n',
      '.hidden/x.yaml': SERVICE('hidden'),
      'deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n',
    });
    const src = source(dir);
    assert.equal(src.hasSynced(), false);
    await src.load();
    assert.equal(src.hasSynced(), true);
    assert.deepEqual(names(src, 'Service'), ['default/four', 'default/one', 'default/three', 'ns/two']);
    assert.deepEqual(src.diagnostics(), []);
    assert.equal(src.skipped().length, 1);
    assert.match(src.skipped()[0] ?? '', /apps\/v1 Deployment at .*deploy\.yaml:1:1/);
  });

  test('assumes the --ingress-class IngressClass only when the folder defines none', async () => {
    const dir = await tempDir({ 'a.yaml': SERVICE('one') });
    const src = source(dir);
    await src.load();
    assert.deepEqual(src.store.get('IngressClass', undefined, 'portico')?.object, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'portico' },
      spec: { controller: 'portico.dev/ingress-controller' },
    });
    await writeFile(
      join(dir, 'class.yaml'),
      'kind: IngressClass\nmetadata: {name: mine}\nspec: {controller: x/y}\n',
    );
    await src.load();
    assert.deepEqual(names(src, 'IngressClass'), ['mine']);
  });

  test('objects carry a locator into their file', async () => {
    const dir = await tempDir({ 'a.yaml': `# c\n${SERVICE('one')}` });
    const src = source(dir);
    await src.load();
    const loc = src.store.get('Service', 'default', 'one')?.locate?.('spec.ports[0].port');
    assert.deepEqual(loc, { file: join(dir, 'a.yaml'), line: 8, column: 11, documentIndex: 0 });
  });

  test('a file that stops parsing keeps its last good objects and reports file:line:column', async () => {
    const dir = await tempDir({
      'a.yaml': `${SERVICE('one')}---\n${SERVICE('two')}`,
      'b.yaml': SERVICE('other'),
    });
    const changes: SourceChange[] = [];
    const src = source(dir, changes);
    await src.load();
    await writeFile(join(dir, 'a.yaml'), `${SERVICE('one')}---\nkind: Service\nmetadata: [\n`);
    await src.load();
    assert.deepEqual(names(src, 'Service'), ['default/one', 'default/other', 'default/two']);
    const [d] = src.diagnostics();
    assert.equal(src.diagnostics().length, 1);
    assert.equal(d?.code, 'PORTICO_ERR_MANIFEST_PARSE');
    assert.match(d?.source ?? '', new RegExp(`^${join(dir, 'a.yaml')}:1[01]:\\d+$`));
    assert.match(d?.message ?? '', /\(document 1\); keeping the 2 object\(s\) it defined before/);
    assert.equal(changes.at(-1)?.diagnosticsChanged, true);
    assert.equal(changes.at(-1)?.kinds.size, 0);
    // Fixing the file applies the new content and clears the diagnostic.
    await writeFile(join(dir, 'a.yaml'), SERVICE('one'));
    await src.load();
    assert.deepEqual(names(src, 'Service'), ['default/one', 'default/other']);
    assert.deepEqual(src.diagnostics(), []);
    assert.deepEqual([...(changes.at(-1)?.kinds ?? [])], ['Service']);
  });

  test('a file that never parsed defines nothing', async () => {
    const dir = await tempDir({ 'a.yaml': 'kind: [\n' });
    const src = source(dir);
    await src.load();
    assert.deepEqual(names(src, 'Service'), []);
    assert.match(src.diagnostics()[0]?.message ?? '', /no objects loaded from it/);
  });

  test('an invalid document is reported at its field; the rest of the file loads', async () => {
    const dir = await tempDir({
      'a.yaml': `${SERVICE('one')}---\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: eighty\n---\nmetadata: {name: nokind}\n`,
    });
    const src = source(dir);
    await src.load();
    assert.deepEqual(names(src, 'Service'), ['default/one']);
    const diags = src.diagnostics().map((d) => [d.object, d.field, d.source?.replace(dir, 'DIR')]);
    assert.deepEqual(diags, [
      ['Service default/bad', 'spec.ports[0].port', 'DIR/a.yaml:14:11'],
      [`File ${join(dir, 'a.yaml')}`, 'kind', 'DIR/a.yaml:16:1'],
    ]);
  });

  test('an object that turns invalid keeps its previous version', async () => {
    const dir = await tempDir({ 'a.yaml': SERVICE('one') });
    const src = source(dir);
    await src.load();
    await writeFile(join(dir, 'a.yaml'), SERVICE('one').replace('port: 80', 'port: "80"'));
    await src.load();
    assert.equal(src.store.get('Service', 'default', 'one')?.object.spec?.ports?.[0]?.port, 80);
    assert.match(src.diagnostics()[0]?.message ?? '', /keeping its previous version/);
  });

  test('removing a file or a document removes its objects', async () => {
    const dir = await tempDir({
      'a.yaml': `${SERVICE('one')}---\n${SERVICE('two')}`,
      'b.yaml': SERVICE('three'),
    });
    const changes: SourceChange[] = [];
    const src = source(dir, changes);
    await src.load();
    await unlink(join(dir, 'b.yaml'));
    await src.load();
    assert.deepEqual(names(src, 'Service'), ['default/one', 'default/two']);
    await writeFile(join(dir, 'a.yaml'), SERVICE('two'));
    await src.load();
    assert.deepEqual(names(src, 'Service'), ['default/two']);
    const before = changes.length;
    await src.load();
    assert.equal(changes.length, before, 'an unchanged folder reports no change');
  });

  test('duplicates across files: the first file (by path) wins, the copy is reported', async () => {
    const dir = await tempDir({
      'a.yaml': SERVICE('one'),
      'b.yaml': SERVICE('one').replace('port: 80', 'port: 81'),
    });
    const src = source(dir);
    await src.load();
    assert.equal(src.store.get('Service', 'default', 'one')?.object.spec?.ports?.[0]?.port, 80);
    assert.match(src.diagnostics()[0]?.message ?? '', /defined again; .* keeping the one at .*a\.yaml:1:1/);
  });

  test('start watches the folder and reports changes', async () => {
    const dir = await tempDir({ 'a.yaml': SERVICE('one') });
    let resolveChange: (c: SourceChange) => void = () => {};
    const src = new FileSource({
      dir,
      ingressClass: 'portico',
      controllerClass: 'portico.dev/ingress-controller',
      logger: silentLogger(),
      onChange: (c) => resolveChange(c),
    });
    await src.start();
    try {
      const changed = new Promise<SourceChange>((resolve, reject) => {
        resolveChange = resolve;
        setTimeout(() => reject(new Error('no change seen within 5 s')), 5_000).unref();
      });
      await writeFile(join(dir, 'b.yaml'), SERVICE('two'));
      const c = await changed;
      assert.deepEqual([...c.kinds], ['Service']);
      assert.deepEqual(names(src, 'Service'), ['default/one', 'default/two']);
    } finally {
      await src.stop();
    }
  });
});
