/**
 * crds/portico.dev_l4routes.yaml: a valid apiextensions.k8s.io/v1 CRD (kubernetes-models), with
 * the shape cluster mode relies on (group, plural, status subresource, printer columns), and a
 * schema that agrees with Portico's own validation (same fields, enums, bounds, duration syntax).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  CustomResourceDefinition,
  type ICustomResourceDefinition,
} from 'kubernetes-models/apiextensions.k8s.io/v1';
import { parse } from 'yaml';
import { RESOURCES } from '../../../src/k8s/client.js';
import {
  DURATION_PATTERN,
  L4_PROTOCOLS,
  L4_PROXY_PROTOCOLS,
  L4_ROUTE_SPEC_FIELDS,
  L4_SCHEDULERS,
} from '../../../src/l4/route.js';
import { L4_MODES } from '../../../src/l4/translate.js';
import { L4_ROUTE_API_VERSION } from '../../../src/model/objects.js';

const crd = parse(
  readFileSync(new URL('../../../crds/portico.dev_l4routes.yaml', import.meta.url), 'utf8'),
) as ICustomResourceDefinition;

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  default?: unknown;
  anyOf?: Schema[];
}

const version = crd.spec.versions[0];
const root = version?.schema?.openAPIV3Schema as Schema;
const spec = root.properties?.['spec'] as Schema;
const field = (name: string): Schema => spec.properties?.[name] as Schema;

describe('L4Route CRD', () => {
  test('is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', () => {
    assert.doesNotThrow(() => new CustomResourceDefinition(crd).validate());
  });

  test('names the group, version, plural and scope cluster mode lists and watches', () => {
    const r = RESOURCES.L4Route;
    assert.equal(crd.metadata?.name, `${r.plural}.${r.group}`);
    assert.equal(`${crd.spec.group}/${version?.name}`, L4_ROUTE_API_VERSION);
    assert.equal(crd.spec.names.plural, r.plural);
    assert.equal(crd.spec.names.kind, 'L4Route');
    assert.equal(crd.spec.scope, 'Namespaced');
  });

  test('has a status subresource with conditions and the mode in force', () => {
    assert.deepEqual(version?.subresources?.status, {});
    const status = root.properties?.['status'] as Schema;
    assert.ok(status.properties?.['conditions']);
    assert.deepEqual(status.properties?.['mode']?.enum, [...L4_MODES]);
  });

  test('printer columns show port, protocol, service, mode and the Accepted condition', () => {
    assert.deepEqual(
      version?.additionalPrinterColumns?.map((c) => c.name),
      ['Port', 'Protocol', 'Service', 'Mode', 'Accepted', 'Age'],
    );
  });

  test('the spec lists exactly the fields Portico reads, listenPort and backend required', () => {
    assert.deepEqual(Object.keys(spec.properties ?? {}).sort(), [...L4_ROUTE_SPEC_FIELDS].sort());
    assert.deepEqual(spec.required, ['listenPort', 'backend']);
  });

  const enums = [
    { name: 'protocol', values: L4_PROTOCOLS, default: 'TCP' },
    { name: 'scheduler', values: L4_SCHEDULERS, default: 'rr' },
    { name: 'proxyProtocol', values: L4_PROXY_PROTOCOLS, default: 'none' },
  ];
  for (const e of enums) {
    test(`spec.${e.name} allows exactly what Portico accepts, default ${e.default}`, () => {
      assert.deepEqual(field(e.name).enum, [...e.values]);
      assert.equal(field(e.name).default, e.default);
    });
  }

  test('spec.listenPort and a numeric backend port are bounded 1-65535', () => {
    assert.equal(field('listenPort').minimum, 1);
    assert.equal(field('listenPort').maximum, 65535);
    const port = field('backend').properties?.['port'] as Schema;
    assert.deepEqual(
      port.anyOf?.map((s) => s.type),
      ['integer', 'string'],
    );
  });

  test('spec.idleTimeout uses the duration syntax Portico parses', () => {
    assert.equal(field('idleTimeout').pattern, DURATION_PATTERN);
    const pattern = new RegExp(DURATION_PATTERN);
    for (const ok of ['30s', '1m30s', '1.5h', '500ms']) assert.match(ok, pattern);
    for (const bad of ['30', 's', '1d', '-1s']) assert.doesNotMatch(bad, pattern);
  });
});
