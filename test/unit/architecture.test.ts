/**
 * Import boundaries from DESIGN §6, checked on the source text: Biome's noRestrictedImports covers
 * the pure folders too, but cannot express "only this folder may import X".
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const srcDir = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const importPattern =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(importPattern)].map((m) => m[1] ?? m[2] ?? '');
}

const files = sourceFiles(srcDir).map((path) => ({ path: relative(root, path), imports: importsOf(path) }));

const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:https',
  'node:http2',
  'node:tls',
  'node:dgram',
  'node:child_process',
  'fastify',
  'undici',
  'chokidar',
  '@kubernetes/client-node',
];

const rules = [
  {
    name: 'pure layers (model, compile, endpoints, l4/render, l4/model, l4/naming, l4 configuration) import no I/O module',
    applies: (path: string) =>
      /^src\/(model|compile|endpoints|l4\/render)\//.test(path) ||
      /^src\/l4\/(model|naming|config-map|route|translate)\.ts$/.test(path),
    forbidden: (spec: string) => ioModules.includes(spec),
  },
  {
    name: 'only src/k8s imports @kubernetes/client-node',
    applies: (path: string) => !path.startsWith('src/k8s/'),
    forbidden: (spec: string) =>
      spec === '@kubernetes/client-node' || spec.startsWith('@kubernetes/client-node/'),
  },
  {
    name: 'only src/l4/apply spawns processes',
    applies: (path: string) => !path.startsWith('src/l4/apply/'),
    forbidden: (spec: string) => spec === 'node:child_process' || spec === 'child_process',
  },
  {
    name: 'undici pools are created only on the proxy path (src/proxy, src/policy/auth)',
    applies: (path: string) => !/^src\/(proxy|policy\/auth)\//.test(path),
    forbidden: (spec: string) => spec === 'undici',
  },
  {
    name: 'node built-ins are imported with the node: prefix',
    applies: () => true,
    forbidden: (spec: string) =>
      ['fs', 'net', 'http', 'https', 'tls', 'path', 'url', 'child_process', 'crypto', 'os', 'util'].includes(
        spec,
      ),
  },
] as const;

test('the source tree is not empty (the scan works)', () => {
  assert.ok(files.length > 0);
  assert.ok(files.some((f) => f.imports.length > 0));
});

for (const rule of rules) {
  test(rule.name, () => {
    const offenders = files.flatMap((f) =>
      rule.applies(f.path) ? f.imports.filter(rule.forbidden).map((spec) => `${f.path} imports ${spec}`) : [],
    );
    assert.deepEqual(offenders, []);
  });
}
