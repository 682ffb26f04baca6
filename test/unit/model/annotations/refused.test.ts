/**
 * Snippets are refused: any `*-snippet` annotation under either prefix makes the whole Ingress
 * invalid (not served; its last good version keeps serving), with an error diagnostic naming the
 * annotation (an `InvalidAnnotation` Event in cluster mode). Unknown annotations are reported once
 * per Ingress as ignored.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LastGoodIngresses } from '../../../../src/controller/last-good.js';
import { withRejections } from '../../../../src/controller/loop.js';
import { occurrencesOf } from '../../../../src/k8s/events.js';
import { SNIPPET_REASON } from '../../../../src/model/annotations/refused.js';
import { readIngressAnnotations } from '../../../../src/model/annotations/registry.js';
import type { Ingress } from '../../../../src/model/objects.js';
import { translate } from '../../../../src/model/translate/translate.js';
import { validateIngress } from '../../../../src/model/translate/validate.js';
import { ObjectStore } from '../../../../src/store/object-store.js';
import {
  ingress,
  ingressClass,
  inputFrom,
  service,
  stored,
  svc,
  TEST_OPTIONS,
} from '../../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';
const cls = ingressClass('portico').build();
const web = service('web').port(80).build();

const shop = (annotations: Record<string, string>, path = '/'): Ingress => {
  let b = ingress('shop').cls('portico');
  for (const [k, v] of Object.entries(annotations)) b = b.annotate(k, v);
  return b.host('a.test').prefix(path, svc('web', 80)).build();
};

const snippetKeys = [
  `${N}configuration-snippet`,
  `${N}server-snippet`,
  `${N}auth-snippet`,
  `${N}stream-snippet`,
  `${N}modsecurity-snippet`,
  `${P}configuration-snippet`,
  `${P}anything-snippet`,
];

describe('snippet refusal', () => {
  for (const key of snippetKeys) {
    test(`${key} rejects the Ingress with an error naming the annotation`, () => {
      const bad = shop({ [key]: 'more_set_headers "X: y";', [`${N}ssl-redirect`]: 'true' });
      const errors = validateIngress(stored(bad));
      assert.deepEqual(
        errors.map((d) => [d.severity, d.code, d.field]),
        [['error', 'PORTICO_ERR_ANNOTATION_INVALID', `metadata.annotations["${key}"]`]],
      );
      assert.ok(errors[0]?.message.includes(`annotation ${key} is refused: ${SNIPPET_REASON}`));
      const m = translate(inputFrom([cls, web, bad]), TEST_OPTIONS);
      assert.equal(m.ingresses[0]?.state, 'rejected');
      assert.equal(m.routes.length, 0);
    });
  }

  test('a refused key is not also reported as unknown', () => {
    const parsed = readIngressAnnotations(shop({ [`${N}server-snippet`]: 'x', [`${N}nope`]: 'y' }));
    assert.deepEqual(
      parsed.unknown.map((u) => u.key),
      [`${N}nope`],
    );
  });

  test('an empty snippet is refused too: the key is code, whatever its value', () => {
    const errors = validateIngress(stored(shop({ [`${N}configuration-snippet`]: '' })));
    assert.equal(errors.length, 1);
  });

  test('an edit that adds a snippet keeps the last good version serving and says why', () => {
    const lastGood = new LastGoodIngresses(validateIngress);
    const good = stored(shop({}, '/old'));
    lastGood.select([good]);
    const selection = lastGood.select([stored(shop({ [`${N}server-snippet`]: 'return 403;' }, '/new'))]);
    assert.deepEqual(
      selection.rejected.map((r) => [r.ingress, r.servingLastGood]),
      [['default/shop', true]],
    );
    const model = withRejections(
      translate({ ...inputFrom([cls, web]), ingresses: selection.ingresses }, TEST_OPTIONS),
      selection.rejected,
      [],
    );
    assert.deepEqual(
      model.routes.map((r) => r.path),
      ['/old'],
    );
    assert.deepEqual(
      model.diagnostics.map((d) => [d.code, d.field]),
      [
        ['PORTICO_ERR_ANNOTATION_INVALID', `metadata.annotations["${N}server-snippet"]`],
        ['PORTICO_WARN_KEEPING_LAST_GOOD', ''],
      ],
    );
    assert.equal(model.ingresses[0]?.state, 'rejected');

    const store = new ObjectStore();
    store.upsert(shop({ [`${N}server-snippet`]: 'return 403;' }));
    const events = occurrencesOf(model.diagnostics, store);
    assert.deepEqual(
      events.map((e) => e.reason),
      ['InvalidAnnotation', 'KeepingLastGood'],
    );
    assert.ok(events[0]?.message.includes(`${N}server-snippet is refused`));
  });
});

describe('unknown annotations', () => {
  test('are reported once per Ingress as ignored, however many rules and paths it has', () => {
    const multi = ingress('shop')
      .cls('portico')
      .annotate(`${N}enable-influxdb`, 'true')
      .host('a.test')
      .prefix('/a', svc('web', 80))
      .prefix('/b', svc('web', 80))
      .host('b.test')
      .prefix('/', svc('web', 80))
      .build();
    const m = translate(inputFrom([cls, web, multi]), TEST_OPTIONS);
    const unknown = m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_ANNOTATION_UNKNOWN');
    assert.deepEqual(
      unknown.map((d) => [d.severity, d.object, d.field]),
      [['warning', 'Ingress default/shop', `metadata.annotations["${N}enable-influxdb"]`]],
    );
    assert.match(unknown[0]?.message ?? '', new RegExp(`^annotation ${N}enable-influxdb is ignored: `));
    assert.equal(m.ingresses[0]?.state, 'served');
  });

  test('become UnknownAnnotation Events on the Ingress', () => {
    const object = shop({ [`${N}enable-influxdb`]: 'true' });
    const m = translate(inputFrom([cls, web, object]), TEST_OPTIONS);
    const store = new ObjectStore();
    store.upsert(object);
    const events = occurrencesOf(m.diagnostics, store);
    assert.deepEqual(
      events.map((e) => [e.reason, e.subject.name]),
      [['UnknownAnnotation', 'shop']],
    );
    assert.match(events[0]?.message ?? '', /enable-influxdb is ignored/);
  });
});
