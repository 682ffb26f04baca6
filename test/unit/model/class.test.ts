import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IngressClass } from '../../../src/model/objects.js';
import type { TranslateOptions } from '../../../src/model/translate/translate.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { IngressState } from '../../../src/model/types.js';
import type { IngressBuilder } from '../../support/builders.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../support/builders.js';

const ours = ingressClass('portico').build();
const oursDefault = ingressClass('portico').isDefault().build();
const oursNotDefault = ingressClass('portico').isDefault(false).build();
const nginx = ingressClass('nginx').controller('k8s.io/ingress-nginx').build();
const nginxDefault = ingressClass('nginx').controller('k8s.io/ingress-nginx').isDefault().build();
const secondOurs = ingressClass('portico-internal').build();

interface Row {
  readonly name: string;
  readonly classes: readonly IngressClass[];
  readonly ingress: (b: IngressBuilder) => IngressBuilder;
  readonly options?: Partial<TranslateOptions>;
  readonly want: IngressState;
  /** A substring of the report's reason. */
  readonly reason?: string;
}

const rows: readonly Row[] = [
  {
    name: 'ingressClassName naming our IngressClass is served',
    classes: [ours],
    ingress: (b) => b.cls('portico'),
    want: 'served',
  },
  {
    name: 'ingressClassName naming any IngressClass whose controller is ours is served, whatever its name',
    classes: [ours, secondOurs],
    ingress: (b) => b.cls('portico-internal'),
    want: 'served',
  },
  {
    name: "ingressClassName naming another controller's IngressClass is ignored",
    classes: [ours, nginx],
    ingress: (b) => b.cls('nginx'),
    want: 'ignored',
    reason: 'ingressClassName "nginx" is not handled by portico.dev/ingress-controller',
  },
  {
    name: 'ingressClassName naming a non-existent IngressClass is ignored',
    classes: [ours],
    ingress: (b) => b.cls('missing'),
    want: 'ignored',
    reason: 'no IngressClass "missing" exists',
  },
  {
    name: 'the legacy annotation equal to our class is served without any IngressClass object',
    classes: [],
    ingress: (b) => b.classAnnotation('portico'),
    want: 'served',
  },
  {
    name: 'the legacy annotation naming another class is ignored',
    classes: [ours],
    ingress: (b) => b.classAnnotation('nginx'),
    want: 'ignored',
    reason: 'kubernetes.io/ingress.class "nginx"',
  },
  {
    name: 'the legacy annotation is checked first: ours wins over a foreign ingressClassName',
    classes: [ours, nginx],
    ingress: (b) => b.classAnnotation('portico').cls('nginx'),
    want: 'served',
  },
  {
    name: 'the legacy annotation is checked first: a foreign one loses even with our ingressClassName',
    classes: [ours],
    ingress: (b) => b.classAnnotation('nginx').cls('portico'),
    want: 'ignored',
  },
  {
    name: 'the legacy annotation must match exactly, case included',
    classes: [],
    ingress: (b) => b.classAnnotation('Portico'),
    want: 'ignored',
  },
  {
    name: 'an Ingress without class is ignored when no default class or flag applies',
    classes: [ours],
    ingress: (b) => b,
    want: 'ignored',
    reason: 'no ingress class',
  },
  {
    name: 'an Ingress without class is served when one of our IngressClasses is the default',
    classes: [oursDefault],
    ingress: (b) => b,
    want: 'served',
  },
  {
    name: 'is-default-class must be exactly "true"',
    classes: [oursNotDefault],
    ingress: (b) => b,
    want: 'ignored',
  },
  {
    name: "another controller's default IngressClass does not make class-less Ingresses ours",
    classes: [ours, nginxDefault],
    ingress: (b) => b,
    want: 'ignored',
  },
  {
    name: 'an Ingress without class is served when watchIngressWithoutClass is set',
    classes: [],
    ingress: (b) => b,
    options: { watchIngressWithoutClass: true },
    want: 'served',
  },
  {
    name: 'watchIngressWithoutClass does not take Ingresses of another class',
    classes: [nginx],
    ingress: (b) => b.cls('nginx'),
    options: { watchIngressWithoutClass: true },
    want: 'ignored',
  },
  {
    name: 'an empty ingressClassName means no class, and the API server refuses it, so it is rejected',
    classes: [oursDefault],
    ingress: (b) => b.cls(''),
    want: 'rejected',
    reason: 'spec.ingressClassName',
  },
  {
    name: 'an ignored Ingress is not validated: an invalid foreign Ingress is ignored, not rejected',
    classes: [nginx],
    ingress: (b) => b.cls('nginx').host('1.2.3.4'),
    want: 'ignored',
  },
];

describe('ingress class selection', () => {
  for (const row of rows) {
    test(row.name, () => {
      const ing = row.ingress(ingress('shop').host('a.example').prefix('/', svc('web', 80))).build();
      const model = translate(inputFrom([...row.classes, service('web').port(80).build(), ing]), {
        ...TEST_OPTIONS,
        ...row.options,
      });
      assert.equal(model.ingresses.length, 1);
      const report = model.ingresses[0]!;
      assert.equal(report.state, row.want, report.reason);
      if (row.reason) assert.ok(report.reason.includes(row.reason), report.reason);
      if (row.want === 'served') assert.equal(model.routes.length, 1);
      else assert.equal(model.routes.length, 0);
      if (row.want === 'ignored') assert.deepEqual(model.diagnostics, []);
    });
  }
});
