/**
 * Node 20 is the runtime here. undici 8 and @kubernetes/client-node 2 need Node 22 yet install with
 * only a warning (engine-strict stays off because fastify pulls cookie@2, which declares Node 22 but
 * runs on 20). These tests turn such a silent upgrade into a red build.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

interface Manifest {
  readonly version: string;
  readonly engines?: { readonly node?: string };
}

function installed(name: string): Manifest {
  // Read the file directly: some packages (chokidar) do not export their package.json.
  const path = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

type Version = readonly [number, number, number];

function parseVersion(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Accepts the range forms npm packages use in `engines.node`: `>=`, `>`, `^`, `~`, `x`, AND by space, OR by `||`. */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  const compact = range.replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1');
  return compact.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const m = /^(>=|<=|>|<|\^|~|=)?v?([\dx*]+(?:\.[\dx*]+){0,2})$/.exec(comparator);
        if (!m) throw new Error(`unsupported engines comparator ${comparator}`);
        const op = m[1] ?? '=';
        const wild = (m[2] ?? '').split('.');
        const base = parseVersion(wild.map((p) => (/^\d+$/.test(p) ? p : '0')).join('.'));
        const c = compare(v, base);
        const fixedParts = wild.filter((p) => /^\d+$/.test(p)).length;
        switch (op) {
          case '>=':
            return c >= 0;
          case '>':
            return c > 0;
          case '<=':
            return c <= 0;
          case '<':
            return c < 0;
          case '^':
            return c >= 0 && v[0] === base[0];
          case '~':
            return c >= 0 && v[0] === base[0] && v[1] === base[1];
          default:
            return wild.every((p, i) => !/^\d+$/.test(p) || Number(p) === v[i]) && fixedParts > 0;
        }
      }),
  );
}

const pinnedMajors = [
  { name: 'undici', major: 7, why: 'undici 8 needs Node >= 22.19' },
  { name: '@kubernetes/client-node', major: 1, why: 'client-node 2 needs Node 22' },
] as const;

for (const pin of pinnedMajors) {
  test(`installed ${pin.name} is major ${pin.major} (${pin.why})`, () => {
    assert.equal(parseVersion(installed(pin.name).version)[0], pin.major);
  });
}

for (const name of [
  'undici',
  '@kubernetes/client-node',
  'fastify',
  'pino',
  'yaml',
  'chokidar',
  'proxy-addr',
]) {
  test(`installed ${name} accepts the running Node ${process.version}`, () => {
    const range = installed(name).engines?.node;
    if (range === undefined) return; // no declared requirement
    assert.ok(satisfies(process.version, range), `${name} declares engines.node ${range}`);
  });
}

const rangeCases = [
  { version: 'v20.20.2', range: '>=20.18.1', want: true },
  { version: 'v20.20.2', range: '>=22.19.0', want: false },
  { version: 'v20.20.2', range: '^18.17.0 || >=20.5.0', want: true },
  { version: 'v20.20.2', range: '^22.12.0', want: false },
  { version: 'v20.20.2', range: '20.x', want: true },
  { version: 'v20.20.2', range: '>=14 <21', want: true },
  { version: 'v20.20.2', range: '>= 0.10', want: true },
] as const;

for (const c of rangeCases) {
  test(`engines range ${c.range} ${c.want ? 'accepts' : 'rejects'} ${c.version}`, () => {
    assert.equal(satisfies(c.version, c.range), c.want);
  });
}
