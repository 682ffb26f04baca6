/**
 * crds/portico.dev_ratelimitpolicies.yaml: a valid apiextensions.k8s.io/v1 CRD (kubernetes-models),
 * with the shape cluster mode relies on (group, plural, status subresource, printer columns), and a
 * schema that agrees with Portico's own validation (same fields, bounds, enums and key syntax).
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
import { MAX_RATE, rateLimitKey } from '../../../src/model/annotations/rate-limit.js';
import { RATE_LIMIT_POLICY_API_VERSION } from '../../../src/model/objects.js';
import { RATE_LIMIT_POLICY_FIELDS } from '../../../src/model/rate-limit-policy.js';

const text = readFileSync(
  new URL('../../../crds/portico.dev_ratelimitpolicies.yaml', import.meta.url),
  'utf8',
);
const crd = parse(text) as ICustomResourceDefinition;

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  default?: unknown;
  anyOf?: { required: string[] }[];
}

const version = crd.spec.versions[0];
const root = version?.schema?.openAPIV3Schema as Schema;
const spec = root.properties?.['spec'] as Schema;
const field = (name: string): Schema => spec.properties?.[name] as Schema;

describe('RateLimitPolicy CRD', () => {
  test('is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', () => {
    assert.doesNotThrow(() => new CustomResourceDefinition(crd).validate());
  });

  test('names the group, version, plural and scope cluster mode lists and watches', () => {
    const r = RESOURCES.RateLimitPolicy;
    assert.equal(crd.metadata?.name, `${r.plural}.${r.group}`);
    assert.equal(crd.spec.group, r.group);
    assert.equal(crd.spec.names.plural, r.plural);
    assert.equal(crd.spec.names.kind, 'RateLimitPolicy');
    assert.equal(crd.spec.scope, r.namespaced ? 'Namespaced' : 'Cluster');
    assert.equal(crd.spec.versions.length, 1);
    assert.equal(`${crd.spec.group}/${version?.name}`, RATE_LIMIT_POLICY_API_VERSION);
    assert.equal(version?.served, true);
    assert.equal(version?.storage, true);
  });

  test('has the status subresource and printer columns RPS, Burst, Store, Accepted, Age', () => {
    assert.deepEqual(version?.subresources?.status, {});
    assert.deepEqual(
      version?.additionalPrinterColumns?.map((c) => [c.name, c.jsonPath]),
      [
        ['RPS', '.spec.rps'],
        ['Burst', '.spec.burst'],
        ['Store', '.spec.store'],
        ['Accepted', '.status.conditions[?(@.type=="Accepted")].status'],
        ['Age', '.metadata.creationTimestamp'],
      ],
    );
  });

  test('spec lists exactly the fields Portico validates, and needs one limit', () => {
    assert.deepEqual(Object.keys(spec.properties ?? {}).sort(), [...RATE_LIMIT_POLICY_FIELDS].sort());
    assert.deepEqual(root.required, ['spec']);
    assert.deepEqual(spec.anyOf, [
      { required: ['rps'] },
      { required: ['rpm'] },
      { required: ['connections'] },
    ]);
  });

  test('bounds and enums are the ones Portico enforces', () => {
    const cases: readonly [string, Partial<Schema>][] = [
      ['rps', { type: 'integer', minimum: 1, maximum: MAX_RATE }],
      ['rpm', { type: 'integer', minimum: 1, maximum: MAX_RATE }],
      ['burst', { type: 'integer', minimum: 0, maximum: MAX_RATE }],
      ['connections', { type: 'integer', minimum: 1, maximum: MAX_RATE }],
      ['statusCode', { type: 'integer', minimum: 400, maximum: 599, default: 429 }],
      ['scope', { type: 'string', enum: ['ingress', 'path'], default: 'ingress' }],
      ['store', { type: 'string', enum: ['memory', 'redis'] }],
      ['dryRun', { type: 'boolean', default: false }],
    ];
    for (const [name, want] of cases) {
      const got = field(name);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof Schema], v, `${name}.${k}`);
    }
    assert.equal(field('allowlist').type, 'array');
    assert.equal(field('allowlist').items?.type, 'string');
  });

  test('the key pattern accepts exactly what the limit-key validator accepts', () => {
    const pattern = new RegExp(field('key').pattern ?? '');
    const samples = [
      'remote-ip',
      'host',
      'header:X-Api-Key',
      "cookie:a!#$%&'*+-.^_`|~9",
      'header:',
      'header:a b',
      'cookie:a:b',
      'ip',
      'Host',
      'header:a"b',
      '',
    ];
    for (const s of samples) assert.equal(pattern.test(s), rateLimitKey(s).ok, JSON.stringify(s));
  });

  test('status conditions have the metav1.Condition shape', () => {
    const status = root.properties?.['status'] as Schema;
    const condition = status.properties?.['conditions']?.items as Schema;
    assert.deepEqual(condition.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    assert.deepEqual(condition.properties?.['status']?.enum, ['True', 'False', 'Unknown']);
    assert.equal(status.properties?.['observedGeneration']?.type, 'integer');
  });
});
