/**
 * `gen-docs` writes the generated documentation: docs/configmap.md from the settings table and
 * docs/annotations.md from the annotation family tables, docs/ingress-nginx-migration.md from
 * the ingress-nginx annotation list and the same tables. `npm run check:generated` runs it and
 * fails when git sees a difference (DESIGN §9).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderMigrationDoc } from '../src/migrate/doc.js';
import { renderAnnotationsDoc } from '../src/model/annotations/doc.js';
import { renderConfigMapDoc } from '../src/model/settings/doc.js';

const pages: readonly (readonly [string, () => string])[] = [
  ['../docs/configmap.md', renderConfigMapDoc],
  ['../docs/annotations.md', renderAnnotationsDoc],
  ['../docs/ingress-nginx-migration.md', renderMigrationDoc],
];
for (const [path, render] of pages) {
  const target = fileURLToPath(new URL(path, import.meta.url));
  await writeFile(target, render());
  process.stdout.write(`wrote ${target}\n`);
}
