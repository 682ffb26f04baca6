/**
 * The ConfigMap's address lists through translation: `whitelist-source-range` and
 * `denylist-source-range` are defaults an Ingress's annotations replace; `block-cidrs` joins every
 * deny-list, whatever the annotations say.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type RouteDefaults, translate } from '../../../src/model/translate/translate.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';

const shop = (annotations: Record<string, string>) => {
  const b = ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80));
  for (const [k, v] of Object.entries(annotations)) b.annotate(k, v);
  return b.build();
};

describe('ConfigMap address lists (routeDefaults)', () => {
  const cases: readonly {
    name: string;
    annotations: Record<string, string>;
    defaults: RouteDefaults;
    allow?: readonly string[];
    deny?: readonly string[];
  }[] = [
    { name: 'nothing anywhere: no lists', annotations: {}, defaults: {} },
    {
      name: 'the ConfigMap allow-list applies to an Ingress without one',
      annotations: {},
      defaults: { ipAllow: ['10.0.0.0/8'] },
      allow: ['10.0.0.0/8'],
    },
    {
      name: "the annotation's allow-list replaces the ConfigMap's",
      annotations: { [`${N}whitelist-source-range`]: '192.168.0.0/16' },
      defaults: { ipAllow: ['10.0.0.0/8'] },
      allow: ['192.168.0.0/16'],
    },
    {
      name: "the annotation's deny-list replaces the ConfigMap's",
      annotations: { [`${N}denylist-source-range`]: '192.0.2.1' },
      defaults: { ipDeny: ['198.51.100.0/24'] },
      deny: ['192.0.2.1/32'],
    },
    {
      name: 'block-cidrs joins the deny-list in force',
      annotations: { [`${N}denylist-source-range`]: '192.0.2.1' },
      defaults: { ipDeny: ['198.51.100.0/24'], ipBlock: ['203.0.113.0/24'] },
      deny: ['203.0.113.0/24', '192.0.2.1/32'],
    },
    {
      name: 'block-cidrs alone',
      annotations: {},
      defaults: { ipBlock: ['203.0.113.0/24', '2001:db8::/32'] },
      deny: ['203.0.113.0/24', '2001:db8::/32'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = translate(
        {
          ...inputFrom([
            ingressClass('portico').build(),
            service('web').port(80).build(),
            shop(c.annotations),
          ]),
          routeDefaults: c.defaults,
        },
        TEST_OPTIONS,
      );
      const lists = m.routes[0]?.policy?.ipAccess;
      assert.deepEqual(lists?.allow, c.allow);
      assert.deepEqual(lists?.deny, c.deny);
    });
  }
});
