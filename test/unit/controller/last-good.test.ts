import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LastGoodIngresses } from '../../../src/controller/last-good.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { Ingress } from '../../../src/model/objects.js';
import type { StoredObject } from '../../../src/store/object-store.js';

/** Versions marked `bad` in an annotation fail validation. */
function ing(name: string, version: string, bad = false): StoredObject<Ingress> {
  return {
    object: {
      kind: 'Ingress',
      metadata: { name, namespace: 'default', annotations: { version, ...(bad ? { bad: 'yes' } : {}) } },
      spec: { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } },
    },
  };
}

function validate(s: StoredObject<Ingress>): Diagnostic[] {
  return s.object.metadata.annotations?.['bad']
    ? [
        {
          severity: 'error',
          code: 'PORTICO_ERR_PATH_INVALID',
          object: `Ingress default/${s.object.metadata.name}`,
          field: 'spec.rules[0].http.paths[0].path',
          message: 'bad',
        },
      ]
    : [];
}

const versions = (sel: { ingresses: readonly StoredObject<Ingress>[] }) =>
  sel.ingresses.map((s) => `${s.object.metadata.name}@${s.object.metadata.annotations?.['version']}`);

describe('LastGoodIngresses', () => {
  const steps: readonly {
    name: string;
    input: StoredObject<Ingress>[];
    want: string[];
    rejected: { ingress: string; servingLastGood: boolean }[];
  }[] = [
    {
      name: 'valid Ingresses are used as they are',
      input: [ing('a', '1'), ing('b', '1')],
      want: ['a@1', 'b@1'],
      rejected: [],
    },
    {
      name: 'an invalid edit falls back to the last good version',
      input: [ing('a', '2', true), ing('b', '2')],
      want: ['a@1', 'b@2'],
      rejected: [{ ingress: 'default/a', servingLastGood: true }],
    },
    {
      name: 'a fixed edit replaces the last good version',
      input: [ing('a', '3'), ing('b', '2')],
      want: ['a@3', 'b@2'],
      rejected: [],
    },
    {
      name: 'a new Ingress that is invalid from the start is dropped',
      input: [ing('a', '3'), ing('b', '2'), ing('c', '1', true)],
      want: ['a@3', 'b@2'],
      rejected: [{ ingress: 'default/c', servingLastGood: false }],
    },
    { name: 'deleting an Ingress forgets it', input: [ing('b', '2')], want: ['b@2'], rejected: [] },
    {
      name: 're-created invalid after delete has no last good version',
      input: [ing('a', '4', true), ing('b', '2')],
      want: ['b@2'],
      rejected: [{ ingress: 'default/a', servingLastGood: false }],
    },
  ];
  test('a sequence of edits', () => {
    const lg = new LastGoodIngresses(validate);
    for (const step of steps) {
      const sel = lg.select(step.input);
      assert.deepEqual(versions(sel), step.want, step.name);
      assert.deepEqual(
        sel.rejected.map((r) => ({ ingress: r.ingress, servingLastGood: r.servingLastGood })),
        step.rejected,
        step.name,
      );
      for (const r of sel.rejected) assert.equal(r.diagnostics[0]?.message, 'bad', step.name);
    }
  });

  test('Ingresses that are not ours are passed through unvalidated and not remembered', () => {
    const lg = new LastGoodIngresses(validate);
    const notOurs = () => false;
    const sel = lg.select([ing('a', '1', true)], notOurs);
    assert.deepEqual(versions(sel), ['a@1']);
    assert.deepEqual(sel.rejected, []);
    assert.equal(lg.size, 0);
  });

  test('an Ingress that stops being ours forgets its last good version', () => {
    const lg = new LastGoodIngresses(validate);
    lg.select([ing('a', '1')]);
    assert.equal(lg.size, 1);
    lg.select([ing('a', '2')], () => false);
    assert.equal(lg.size, 0);
    const sel = lg.select([ing('a', '3', true)]);
    assert.deepEqual(versions(sel), []);
  });
});
