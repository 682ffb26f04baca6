/**
 * docs/ingress-nginx-migration.md is generated from the ingress-nginx annotation list and the
 * family tables: it names every annotation of the list with the status the tables give, and the
 * committed file is the generated one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { renderMigrationDoc } from '../../../src/migrate/doc.js';
import {
  INGRESS_NGINX_ANNOTATIONS,
  INGRESS_NGINX_PREFIX,
  INGRESS_NGINX_TAG,
} from '../../../src/migrate/ingress-nginx-annotations.js';
import { annotationVerdict, STATUS_LABELS } from '../../../src/migrate/status.js';

const root = new URL('../../../', import.meta.url);
const doc = renderMigrationDoc();
const rowOf = (name: string): string | undefined =>
  doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));

describe('the ingress-nginx annotation list', () => {
  test('its header names the ingress-nginx tag it follows', () => {
    const text = readFileSync(new URL('src/migrate/ingress-nginx-annotations.ts', root), 'utf8');
    assert.equal(INGRESS_NGINX_TAG, 'controller-v1.15.1');
    assert.match(text.split('\n').slice(0, 5).join('\n'), /Tag:\s+controller-v1\.15\.1/);
  });

  test('names each annotation once, without prefix, with a section', () => {
    const names = INGRESS_NGINX_ANNOTATIONS.map((a) => a.name);
    assert.equal(new Set(names).size, names.length);
    for (const a of INGRESS_NGINX_ANNOTATIONS) {
      assert.match(a.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, a.name);
      assert.notEqual(a.section, '', a.name);
    }
  });

  test('includes the snippet annotations the page documents', () => {
    const snippets = INGRESS_NGINX_ANNOTATIONS.filter((a) => a.name.endsWith('-snippet')).map((a) => a.name);
    assert.deepEqual(snippets.sort(), [
      'auth-snippet',
      'configuration-snippet',
      'modsecurity-snippet',
      'server-snippet',
      'stream-snippet',
    ]);
  });
});

describe('docs/ingress-nginx-migration.md', () => {
  test('the committed file is the generated one (run `npm run gen:docs`)', () => {
    const committed = readFileSync(new URL('docs/ingress-nginx-migration.md', root), 'utf8');
    assert.equal(committed, doc);
  });

  for (const a of INGRESS_NGINX_ANNOTATIONS) {
    test(`lists ${a.name} with the status the tables give`, () => {
      const line = rowOf(a.name);
      assert.ok(line !== undefined, `no row for ${a.name}`);
      const verdict = annotationVerdict(`${INGRESS_NGINX_PREFIX}/${a.name}`);
      assert.ok(line.includes(`| ${STATUS_LABELS[verdict.status]} |`), line);
      if (verdict.portico !== undefined) assert.ok(line.includes(`\`${verdict.portico}\``), line);
    });
  }
});
