import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderAnnotationsDoc } from '../../../../src/model/annotations/doc.js';
import { FAMILIES } from '../../../../src/model/annotations/registry.js';
import { expectsOf } from '../../../../src/model/annotations/validators.js';

test('docs/annotations.md is what `npm run gen:docs` renders from the family tables (run it after a change)', () => {
  const committed = readFileSync(new URL('../../../../docs/annotations.md', import.meta.url), 'utf8');
  assert.equal(committed, renderAnnotationsDoc());
});

test('every annotation says which values it takes (its validator describes itself)', () => {
  for (const family of FAMILIES) {
    for (const [name, spec] of Object.entries(family.specs)) {
      assert.ok(expectsOf(spec.validate), `${family.family}/${name}: validator without a description`);
    }
  }
});

test('every annotation appears with each prefix it is read under and its own section', () => {
  const doc = renderAnnotationsDoc();
  for (const family of FAMILIES) {
    assert.ok(doc.includes(`## Family: ${family.family}\n\n${family.summary}`), family.family);
    for (const [name, spec] of Object.entries(family.specs)) {
      assert.ok(doc.includes(`### ${name}\n`), name);
      const prefixes = spec.prefixes ?? ['portico.dev', 'nginx.ingress.kubernetes.io'];
      assert.ok(doc.includes(prefixes.map((p) => `\`${p}/${name}\``).join(', ')), name);
    }
  }
});
