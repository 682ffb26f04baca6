/**
 * `fixtures` builds AdmissionReview documents and a populated store for the admission tests (unit,
 * e2e and bench share them).
 */
import type { KubeObject } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { TEST_OPTIONS } from '../../support/builders.js';

/** `ReviewInit` is the request part of a review a test sends. */
export interface ReviewInit {
  readonly uid?: string;
  readonly operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly group?: string;
  readonly resource?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subResource?: string;
}

/** `reviewOf` returns an `admission.k8s.io/v1` AdmissionReview as the API server sends it. */
export function reviewOf(init: ReviewInit): Record<string, unknown> {
  const meta = (init.object ?? init.oldObject) as
    | { metadata?: { namespace?: string; name?: string } }
    | undefined;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: init.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: init.group ?? 'networking.k8s.io', version: 'v1', kind: init.kind ?? 'Ingress' },
      resource: {
        group: init.group ?? 'networking.k8s.io',
        version: 'v1',
        resource: init.resource ?? 'ingresses',
      },
      requestKind: { group: init.group ?? 'networking.k8s.io', version: 'v1', kind: init.kind ?? 'Ingress' },
      ...(init.subResource !== undefined ? { subResource: init.subResource } : {}),
      name: init.name ?? meta?.metadata?.name ?? '',
      namespace: init.namespace ?? meta?.metadata?.namespace ?? 'default',
      operation: init.operation ?? 'CREATE',
      userInfo: { username: 'admin', groups: ['system:authenticated'] },
      object: init.object ?? null,
      oldObject: init.oldObject ?? null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** `storeOf` puts objects into a fresh store. */
export function storeOf(objects: readonly KubeObject[]): ObjectStore {
  const store = new ObjectStore();
  for (const o of objects) store.upsert(o);
  return store;
}

/** `modelOf` translates the whole store, as the controller would. */
export function modelOf(store: ObjectStore): RoutingModel {
  return translate(
    {
      ingresses: store.list('Ingress'),
      ingressClasses: store.list('IngressClass'),
      services: store.list('Service'),
    },
    TEST_OPTIONS,
  );
}
