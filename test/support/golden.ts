/**
 * Golden files with an update switch that fails (DESIGN §7.3, Traefik's habit): `UPDATE_GOLDEN=1`
 * rewrites the file and fails the test, so an update run can never pass by accident. Files hold
 * the text as rendered (still a valid payload); comparison is after `canonicalise`, so a change
 * of order that means nothing does not fail.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export function assertGolden(
  path: string,
  actual: string,
  canonicalise: (text: string) => string = (t) => t,
): void {
  const file = join(root, path);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    assert.fail(`golden ${relative(root, file)} rewritten (UPDATE_GOLDEN=1 always fails; rerun without it)`);
  }
  if (!existsSync(file))
    assert.fail(`golden ${path} is missing: run with UPDATE_GOLDEN=1 once and review the file`);
  assert.equal(canonicalise(actual), canonicalise(readFileSync(file, 'utf8')), `differs from golden ${path}`);
}

/**
 * iptables-restore text in a canonical order, as kube-proxy's `sortIPTablesRules`: per table,
 * comments first in order, chain declarations sorted, rules grouped by chain (chains sorted, order
 * inside a chain kept: it is meaningful), deletions sorted.
 */
export function canonicalIptables(text: string): string {
  const out: string[] = [];
  let declarations: string[] = [];
  let rules = new Map<string, string[]>();
  let deletions: string[] = [];
  const flush = (): void => {
    out.push(...declarations.sort());
    for (const chain of [...rules.keys()].sort()) out.push(...(rules.get(chain) ?? []));
    out.push(...deletions.sort());
    declarations = [];
    rules = new Map();
    deletions = [];
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    if (line.startsWith('#') || line.startsWith('*')) out.push(line);
    else if (line.startsWith(':')) declarations.push(line);
    else if (line.startsWith('-X ')) deletions.push(line);
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1] ?? '';
      rules.set(chain, [...(rules.get(chain) ?? []), line]);
    } else if (line === 'COMMIT') {
      flush();
      out.push(line);
    } else out.push(line);
  }
  flush();
  return out.join('\n');
}

/**
 * An nft script in canonical order: `add rule` lines grouped by chain (order inside kept), every
 * other command sorted. The order of creation matters to nft but not to the meaning compared here.
 */
export function canonicalNft(text: string): string {
  const rules = new Map<string, string[]>();
  const others: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const m = /^add rule \S+ \S+ (\S+) /.exec(line);
    if (m) rules.set(m[1]!, [...(rules.get(m[1]!) ?? []), line]);
    else others.push(line);
  }
  return [...others.sort(), ...[...rules.keys()].sort().flatMap((chain) => rules.get(chain) ?? [])].join(
    '\n',
  );
}

/** ipvsadm text: virtual servers and real servers sorted (IPVS has no order). */
export function canonicalIpvs(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .sort()
    .join('\n');
}
