/**
 * The migrate-check report: every annotation under Portico's prefixes of every Ingress, with its
 * status; `ok` only when nothing is refused or unknown; values Portico would reject are named.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { migrationReport, renderMigrationText } from '../../../src/migrate/report.js';
import { annotationVerdict } from '../../../src/migrate/status.js';
import { ingress, stored, svc } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';

function withAnnotations(name: string, annotations: Record<string, string>) {
  let b = ingress(name).cls('nginx');
  for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
  return stored(b.host('a.test').prefix('/', svc('web', 80)).build());
}

const cases = [
  {
    rule: 'an Ingress with only supported annotations is ok',
    annotations: { [`${N}ssl-redirect`]: 'true', [`${P}ssl-redirect`]: 'false' },
    ok: true,
  },
  {
    rule: 'a snippet makes the report fail',
    annotations: { [`${N}ssl-redirect`]: 'true', [`${N}server-snippet`]: 'return 403;' },
    ok: false,
  },
  {
    rule: 'an annotation Portico does not implement makes the report fail',
    annotations: { [`${N}enable-influxdb`]: 'true' },
    ok: false,
  },
  {
    rule: 'annotations outside both prefixes are not listed and do not count',
    annotations: { 'kubernetes.io/ingress.class': 'nginx', 'example.com/owner': 'team-a' },
    ok: true,
  },
  {
    rule: 'an Ingress without annotations is ok',
    annotations: {},
    ok: true,
  },
] as const;

describe('migrationReport', () => {
  for (const c of cases) {
    test(c.rule, () => {
      const report = migrationReport([withAnnotations('web', c.annotations)]);
      assert.equal(report.ok, c.ok);
      const listed = Object.keys(c.annotations)
        .filter((k) => k.startsWith(N) || k.startsWith(P))
        .sort();
      assert.deepEqual(
        report.ingresses[0]?.annotations.map((a) => [a.key, a.status]),
        listed.map((k) => [k, annotationVerdict(k).status]),
      );
      const total = Object.values(report.counts).reduce((n, v) => n + v, 0);
      assert.equal(total, listed.length);
    });
  }

  test('Ingresses are sorted by namespace/name', () => {
    const report = migrationReport([withAnnotations('zeta', {}), withAnnotations('alpha', {})]);
    assert.deepEqual(
      report.ingresses.map((i) => i.ingress),
      ['default/alpha', 'default/zeta'],
    );
  });

  test('a value Portico would reject is named on its annotation', () => {
    const report = migrationReport([withAnnotations('web', { [`${N}ssl-redirect`]: 'sometimes' })]);
    assert.equal(report.ingresses[0]?.annotations[0]?.invalid, '"sometimes": must be "true" or "false"');
  });

  test('the text names each annotation with its status and ends with the counts', () => {
    const report = migrationReport([
      withAnnotations('web', { [`${N}server-snippet`]: 'x', [`${N}enable-influxdb`]: 'true' }),
    ]);
    const text = renderMigrationText(report);
    assert.match(text, /^Ingress default\/web\n/);
    assert.match(
      text,
      /nginx\.ingress\.kubernetes\.io\/server-snippet: refused — snippets are configuration code/,
    );
    assert.match(text, /nginx\.ingress\.kubernetes\.io\/enable-influxdb: unknown \(ignored\)/);
    assert.match(
      text,
      /1 Ingress, 2 annotations: 0 supported, 0 supported with a documented difference, 1 refused, 1 unknown/,
    );
  });
});
