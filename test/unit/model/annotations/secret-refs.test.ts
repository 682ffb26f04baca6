/**
 * `annotationSecretRefs` decides which Secrets cluster mode fetches and keeps for an Ingress's
 * annotations: same-namespace references only, never one a fail-closed policy names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { annotationSecretRefs } from '../../../../src/model/annotations/registry.js';
import { ingress, svc } from '../../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io';

const cases = [
  { name: 'no annotations: no Secret', annotations: {}, want: [] },
  {
    name: 'the Basic-auth users Secret is kept',
    annotations: { [`${N}/auth-type`]: 'basic', [`${N}/auth-secret`]: 'users' },
    want: ['shop/users'],
  },
  {
    name: 'a cross-namespace auth Secret is never fetched (the route fails closed)',
    annotations: { [`${N}/auth-type`]: 'basic', [`${N}/auth-secret`]: 'other/users' },
    want: [],
  },
  {
    name: 'auth, client-certificate and backend CA Secrets together, sorted',
    annotations: {
      [`${N}/auth-type`]: 'basic',
      [`${N}/auth-secret`]: 'users',
      [`${N}/auth-tls-secret`]: 'client-ca',
      [`${N}/backend-protocol`]: 'HTTPS',
      [`${N}/proxy-ssl-verify`]: 'on',
      [`${N}/proxy-ssl-secret`]: 'backend-ca',
    },
    want: ['shop/backend-ca', 'shop/client-ca', 'shop/users'],
  },
] as const;

for (const c of cases) {
  test(c.name, () => {
    let b = ingress('web').ns('shop').host('a.test').prefix('/', svc('web', 80));
    for (const [k, v] of Object.entries(c.annotations)) b = b.annotate(k, v);
    assert.deepEqual(annotationSecretRefs(b.build()), c.want);
  });
}
