import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeReview, encodeReview } from '../../../src/admission/review.js';
import { ingress, svc } from '../../support/builders.js';
import { reviewOf } from './fixtures.js';

const shop = ingress('shop').cls('portico').host('a.example').prefix('/', svc('web', 80)).build();
const valid = reviewOf({ object: shop });

function withRequest(patch: Record<string, unknown>): string {
  return JSON.stringify({ ...valid, request: { ...(valid['request'] as object), ...patch } });
}

describe('decodeReview', () => {
  test('a v1 AdmissionReview decodes to its request', () => {
    const r = decodeReview(JSON.stringify(valid));
    assert.ok(r.ok);
    assert.equal(r.request.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(r.request.operation, 'CREATE');
    assert.deepEqual(r.request.kind, { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' });
    assert.deepEqual(r.request.resource, {
      group: 'networking.k8s.io',
      version: 'v1',
      resource: 'ingresses',
    });
    assert.equal(r.request.namespace, 'default');
    assert.equal(r.request.name, 'shop');
    assert.deepEqual(r.request.object, shop);
    assert.equal(r.request.oldObject, undefined, 'a null oldObject is absent');
  });

  test('a core-group kind without "group" decodes with group ""', () => {
    const r = decodeReview(withRequest({ kind: { version: 'v1', kind: 'Pod' } }));
    assert.ok(r.ok);
    assert.equal(r.request.kind.group, '');
  });

  const bad = [
    { name: 'a body that is not JSON', body: '{"apiVersion":', want: /not JSON/ },
    { name: 'a JSON array', body: '[]', want: /not a JSON object/ },
    {
      name: 'another kind',
      body: JSON.stringify({ ...valid, kind: 'Pod' }),
      want: /kind "Pod" is not "AdmissionReview"/,
    },
    {
      name: 'the v1beta1 review version',
      body: JSON.stringify({ ...valid, apiVersion: 'admission.k8s.io/v1beta1' }),
      want: /apiVersion "admission.k8s.io\/v1beta1" is not supported/,
    },
    {
      name: 'no request',
      body: JSON.stringify({ ...valid, request: undefined }),
      want: /request is missing/,
    },
    { name: 'no uid', body: withRequest({ uid: '' }), want: /request.uid is missing/ },
    {
      name: 'a kind without version',
      body: withRequest({ kind: { kind: 'Ingress' } }),
      want: /request.kind/,
    },
    {
      name: 'a resource that is a string',
      body: withRequest({ resource: 'ingresses' }),
      want: /request.resource/,
    },
    { name: 'an unknown operation', body: withRequest({ operation: 'PATCH' }), want: /operation "PATCH"/ },
  ] as const;
  for (const c of bad) {
    test(`${c.name} is refused with a message`, () => {
      const r = decodeReview(c.body);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.message, c.want);
    });
  }
});

describe('encodeReview', () => {
  test('an allowed verdict echoes the uid and leaves out empty warnings and status', () => {
    assert.deepEqual(encodeReview('u-1', { allowed: true, warnings: [] }), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: true },
    });
  });

  test('a denial carries status {code, message} and warnings', () => {
    const out = encodeReview('u-2', {
      allowed: false,
      status: { code: 403, message: 'no', reason: 'Forbidden' },
      warnings: ['careful'],
    });
    assert.deepEqual(out.response, {
      uid: 'u-2',
      allowed: false,
      status: { code: 403, message: 'no', reason: 'Forbidden' },
      warnings: ['careful'],
    });
  });

  test('a decoded review round-trips its uid', () => {
    const r = decodeReview(JSON.stringify(reviewOf({ uid: 'abc', object: shop })));
    assert.ok(r.ok);
    assert.equal(encodeReview(r.request.uid, { allowed: true, warnings: [] }).response.uid, 'abc');
  });
});
