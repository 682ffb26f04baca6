import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingressSecretRefs } from '../../../src/k8s/secrets.js';
import type { Ingress } from '../../../src/model/objects.js';

const cases: readonly { name: string; ingress: Ingress; want: string[] }[] = [
  {
    name: 'tls secretNames are referenced in the Ingress namespace',
    ingress: {
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'web' },
      spec: { tls: [{ secretName: 'b' }, { hosts: ['x'], secretName: 'a' }] },
    },
    want: ['web/a', 'web/b'],
  },
  {
    name: 'the same Secret twice is one reference',
    ingress: {
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'web' },
      spec: { tls: [{ secretName: 'a' }, { secretName: 'a' }] },
    },
    want: ['web/a'],
  },
  {
    name: 'a tls entry without a secretName references nothing',
    ingress: {
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'web' },
      spec: { tls: [{ hosts: ['x'] }, { secretName: '' }] },
    },
    want: [],
  },
  {
    name: 'the auth-tls-secret CA bundle is fetched too, with the spec.tls Secrets',
    ingress: {
      kind: 'Ingress',
      metadata: {
        name: 'shop',
        namespace: 'web',
        annotations: { 'nginx.ingress.kubernetes.io/auth-tls-secret': 'web/client-ca' },
      },
      spec: { tls: [{ secretName: 'a' }] },
    },
    want: ['web/a', 'web/client-ca'],
  },
  {
    name: 'an auth-tls-secret without namespace is in the Ingress namespace',
    ingress: {
      kind: 'Ingress',
      metadata: {
        name: 'shop',
        namespace: 'web',
        annotations: { 'portico.dev/auth-tls-secret': 'client-ca' },
      },
      spec: {},
    },
    want: ['web/client-ca'],
  },
  {
    name: 'an Ingress without tls references nothing',
    ingress: { kind: 'Ingress', metadata: { name: 'shop', namespace: 'web' }, spec: {} },
    want: [],
  },
  {
    name: 'a malformed tls field is ignored rather than thrown on',
    ingress: {
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'web' },
      spec: { tls: 'nope' as unknown as [] },
    },
    want: [],
  },
];

for (const c of cases) test(c.name, () => assert.deepEqual(ingressSecretRefs(c.ingress), c.want));
