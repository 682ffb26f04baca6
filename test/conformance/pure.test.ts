/**
 * Runs every conformance case through the pure pipeline: translate → compileSnapshot → match, with
 * the request host and target normalised as the data plane does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeHost, normalizeRequestPath } from '../../src/compile/normalize.js';
import { compileSnapshot } from '../../src/compile/snapshot.js';
import { buildEndpointTable, collectBackends } from '../../src/endpoints/slices.js';
import { translate } from '../../src/model/translate/translate.js';
import { inputFrom, slicesOf } from '../support/builders.js';
import { allConformanceCases } from './cases/index.js';
import { CONFORMANCE_OPTIONS } from './cases/types.js';

describe('conformance (pure pipeline)', () => {
  test('case names are unique', () => {
    const names = allConformanceCases.map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
  });

  for (const c of allConformanceCases) {
    test(c.name, () => {
      const model = translate(inputFrom(c.manifests), { ...CONFORMANCE_OPTIONS, ...c.options });
      assert.deepEqual(
        model.diagnostics.filter((d) => d.severity === 'error'),
        [],
        'cases use valid objects only',
      );
      const snapshot = compileSnapshot(model, 1);
      const endpoints = buildEndpointTable(slicesOf(c.manifests), collectBackends(model));
      for (const r of c.requests) {
        const label = `${r.host || '(no host)'} ${r.path} [${c.source}]`;
        const path = normalizeRequestPath(r.path);
        assert.ok(path.ok, label);
        const m = snapshot.match(normalizeHost(r.host), path.path);
        assert.equal(m.backend?.key ?? 'not-found', r.expect.backend, label);
        if (r.expect.kind) assert.equal(m.kind, r.expect.kind, `${label} kind`);
        if (m.backend) {
          // Self-contained: a process runner finds ready loopback endpoints for every expected backend.
          assert.equal(m.backend.problem, undefined, label);
          const ready = endpoints.get(m.backend.key) ?? [];
          assert.ok(ready.length > 0, `${label}: no ready endpoints`);
          assert.ok(
            ready.every((e) => e.address.startsWith('127.')),
            label,
          );
        }
      }
    });
  }
});
