/** Label and field selector parsing and matching, table-driven, plus patch application. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonPatch, mergePatch, PatchError } from '../../support/fake-apiserver/patch.js';
import {
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from '../../support/fake-apiserver/selectors.js';

const labels = { app: 'web', tier: 'front', n: '5' };

const labelCases = [
  { selector: '', want: true },
  { selector: 'app=web', want: true },
  { selector: 'app==web', want: true },
  { selector: 'app!=web', want: false },
  { selector: 'missing!=x', want: true },
  { selector: 'app in (web, api)', want: true },
  { selector: 'app notin (web)', want: false },
  { selector: 'missing notin (x)', want: true },
  { selector: 'missing in (x)', want: false },
  { selector: 'tier', want: true },
  { selector: '!tier', want: false },
  { selector: '!missing', want: true },
  { selector: 'app=web, tier in (front)', want: true },
  { selector: 'app=web,tier=back', want: false },
  { selector: 'n>4', want: true },
  { selector: 'n<5', want: false },
] as const;

for (const c of labelCases) {
  test(`label selector "${c.selector}" ${c.want ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () => {
    assert.equal(parseLabelSelector(c.selector)(labels), c.want);
  });
}

for (const bad of ['app=(x', 'a b c', 'app=we b', '=x', 'app in x']) {
  test(`label selector "${bad}" is a parse error`, () => {
    assert.throws(() => parseLabelSelector(bad), SelectorError);
  });
}

const fields = { 'metadata.name': 'web', 'metadata.namespace': 'shop', type: 'kubernetes.io/tls' };
const supported = ['metadata.name', 'metadata.namespace', 'type'];

const fieldCases = [
  { selector: 'metadata.name=web', want: true },
  { selector: 'metadata.name==web', want: true },
  { selector: 'metadata.name!=web', want: false },
  { selector: 'metadata.name=web,metadata.namespace=shop', want: true },
  { selector: 'type=kubernetes.io/tls', want: true },
  { selector: 'metadata.namespace!=default', want: true },
] as const;

for (const c of fieldCases) {
  test(`field selector "${c.selector}" ${c.want ? 'matches' : 'does not match'}`, () => {
    assert.equal(parseFieldSelector(c.selector, supported)(fields), c.want);
  });
}

test('a field selector on an unindexed field is "field label not supported"', () => {
  assert.throws(() => parseFieldSelector('spec.foo=x', supported), /field label not supported: spec\.foo/);
});

test('merge patch: null deletes, objects merge, arrays replace', () => {
  assert.deepEqual(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] }), {
    a: { c: 2, d: 3 },
    l: [3],
  });
});

test('json patch: add, replace, remove, test, move, copy; errors are PatchError', () => {
  const doc = { metadata: { labels: { a: '1' } }, list: [1, 2] };
  const out = jsonPatch(doc, [
    { op: 'add', path: '/metadata/labels/b~1c', value: '2' },
    { op: 'replace', path: '/metadata/labels/a', value: 'x' },
    { op: 'add', path: '/list/-', value: 3 },
    { op: 'remove', path: '/list/0' },
    { op: 'test', path: '/list', value: [2, 3] },
    { op: 'copy', from: '/list', path: '/copy' },
    { op: 'move', from: '/copy', path: '/moved' },
  ]);
  assert.deepEqual(out, { metadata: { labels: { a: 'x', 'b/c': '2' } }, list: [2, 3], moved: [2, 3] });
  assert.deepEqual(doc.list, [1, 2], 'the input is not modified');
  assert.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/nope/x', value: 1 }]), PatchError);
  assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/list', value: [] }]), PatchError);
});
