import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReferenceIndex } from '../../../src/k8s/refs.js';

test('the first referrer of a key adds it, the last one to let go removes it', () => {
  const idx = new ReferenceIndex();
  assert.deepEqual(idx.set('default/a', ['default/tls']), { added: ['default/tls'], removed: [] });
  assert.deepEqual(idx.set('default/b', ['default/tls']), { added: [], removed: [] });
  assert.deepEqual(idx.referrers('default/tls'), ['default/a', 'default/b']);
  assert.deepEqual(idx.delete('default/a'), { added: [], removed: [] });
  assert.equal(idx.isReferenced('default/tls'), true);
  assert.deepEqual(idx.delete('default/b'), { added: [], removed: ['default/tls'] });
  assert.equal(idx.isReferenced('default/tls'), false);
  assert.deepEqual(idx.referenced(), []);
});

test('changing what a referrer references reports both sides of the change', () => {
  const idx = new ReferenceIndex();
  idx.set('default/a', ['default/one', 'default/two']);
  assert.deepEqual(idx.set('default/a', ['default/two', 'default/three']), {
    added: ['default/three'],
    removed: ['default/one'],
  });
  assert.deepEqual(idx.referencedBy('default/a'), ['default/three', 'default/two']);
});

test('setting the same references again is a no-op', () => {
  const idx = new ReferenceIndex();
  idx.set('default/a', ['default/x']);
  assert.deepEqual(idx.set('default/a', ['default/x', 'default/x']), { added: [], removed: [] });
});

test('deleting an unknown referrer changes nothing', () => {
  const idx = new ReferenceIndex();
  assert.deepEqual(idx.delete('nope'), { added: [], removed: [] });
});
