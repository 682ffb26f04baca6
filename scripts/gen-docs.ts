/**
 * `gen-docs` writes the generated documentation: docs/configmap.md from the settings table.
 * `npm run check:generated` runs it and fails when git sees a difference (DESIGN §9).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderConfigMapDoc } from '../src/model/settings/doc.js';

const target = fileURLToPath(new URL('../docs/configmap.md', import.meta.url));
await writeFile(target, renderConfigMapDoc());
process.stdout.write(`wrote ${target}\n`);
