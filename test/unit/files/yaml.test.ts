import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFieldPath, parseManifest } from '../../../src/files/yaml.js';

const INGRESS = `# leading comment
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations:
    portico.dev/limit-rps: "10"
spec:
  rules:
  - host: shop.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
      - path: /api
        backend:
          service:
            name: api
`;

describe('parseFieldPath', () => {
  const cases = [
    { field: '', want: [] },
    { field: 'spec.rules[0].http.paths[1].path', want: ['spec', 'rules', 0, 'http', 'paths', 1, 'path'] },
    { field: 'metadata.annotations["a.b/c"]', want: ['metadata', 'annotations', 'a.b/c'] },
    { field: "metadata.annotations['a.b/c'].x", want: ['metadata', 'annotations', 'a.b/c', 'x'] },
    { field: 'items[2]', want: ['items', 2] },
  ] as const;
  for (const c of cases) test(`"${c.field}" splits`, () => assert.deepEqual(parseFieldPath(c.field), c.want));
  for (const bad of ['a[', 'a[x]', 'a["b]'])
    test(`"${bad}" is malformed`, () => assert.equal(parseFieldPath(bad), undefined));
});

describe('locate: field → line:column', () => {
  const parsed = parseManifest(INGRESS, 'm/shop.yaml');
  assert.ok(parsed.ok);
  const doc = parsed.documents[0];
  assert.ok(doc);
  const cases = [
    { name: 'the whole object is its first line', field: '', line: 2, column: 1 },
    {
      name: 'a scalar field points at its value',
      field: 'spec.rules[0].http.paths[1].path',
      line: 17,
      column: 15,
    },
    {
      name: 'a list item points at its first key',
      field: 'spec.rules[0].http.paths[1]',
      line: 17,
      column: 9,
    },
    { name: 'a map field points at its key', field: 'spec.rules[0].http', line: 11, column: 5 },
    {
      name: 'a missing field points at its nearest parent',
      field: 'spec.rules[0].http.paths[1].pathType',
      line: 17,
      column: 9,
    },
    {
      name: 'a flow mapping value is found',
      field: 'spec.rules[0].http.paths[0].backend.service.port.number',
      line: 16,
      column: 47,
    },
    {
      name: 'an annotation with dots in its key',
      field: 'metadata.annotations["portico.dev/limit-rps"]',
      line: 7,
      column: 28,
    },
    { name: 'an index past the end stops at the list', field: 'spec.rules[3].host', line: 9, column: 3 },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(doc.locate(c.field), {
        file: 'm/shop.yaml',
        line: c.line,
        column: c.column,
        documentIndex: 0,
      });
    });
  }
});

describe('parseManifest', () => {
  test('multi-document files keep document indexes, empty documents included', () => {
    const r = parseManifest('kind: A\n---\n---\n# only a comment\n---\nkind: B\n', 'x.yaml');
    assert.ok(r.ok);
    assert.deepEqual(
      r.documents.map((d) => [d.index, d.location.line, d.value]),
      [
        [0, 1, { kind: 'A' }],
        [3, 6, { kind: 'B' }],
      ],
    );
  });

  test('List items are located through locateAt', () => {
    const r = parseManifest('kind: List\nitems:\n- kind: Service\n  metadata:\n    name: s\n', 'l.yaml');
    assert.ok(r.ok);
    const loc = r.documents[0]?.locateAt('items[0]')('metadata.name');
    assert.deepEqual(loc, { file: 'l.yaml', line: 5, column: 11, documentIndex: 0 });
  });

  test('JSON files parse with positions', () => {
    const r = parseManifest('{\n  "kind": "Service",\n  "metadata": {"name": "s"}\n}\n', 's.json');
    assert.ok(r.ok);
    assert.deepEqual(r.documents[0]?.locate('metadata.name'), {
      file: 's.json',
      line: 3,
      column: 24,
      documentIndex: 0,
    });
  });

  const failures = [
    { name: 'an unclosed flow sequence', text: 'kind: A\nitems: [\nb: c\n', line: 3, documentIndex: 0 },
    { name: 'a duplicate key', text: 'a: 1\na: 2\n', line: 2, documentIndex: 0 },
    {
      name: 'bad indentation in the second document',
      text: 'kind: A\n---\nkind: B\n  x: 1\n y: 2\n',
      line: 3,
      documentIndex: 1,
    },
    { name: 'a tab used for indentation', text: 'a:\n\tb: 1\n', line: 2, documentIndex: 0 },
  ] as const;
  for (const c of failures) {
    test(`${c.name} fails the file with a position`, () => {
      const r = parseManifest(c.text, 'bad.yaml');
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.location.line, c.line);
      assert.equal(r.error.location.documentIndex, c.documentIndex);
      assert.ok(r.error.location.column >= 1);
      assert.doesNotMatch(r.error.message, /\n/);
    });
  }

  test('empty and comment-only files have no documents', () => {
    for (const text of ['', '# nothing\n', '---\n']) {
      const r = parseManifest(text, 'e.yaml');
      assert.ok(r.ok);
      assert.deepEqual(r.documents, []);
    }
  });
});
