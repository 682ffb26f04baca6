import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Controller } from '../../../src/controller/loop.js';
import { defaultPipeline } from '../../../src/controller/pipeline.js';
import type { ConfigSource } from '../../../src/controller/source.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { KubeKind, KubeObject } from '../../../src/model/objects.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import type { TlsTable } from '../../../src/tls/certificates.js';
import { FakeClock } from '../../../src/util/clock.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';

class Source implements ConfigSource {
  readonly store = new ObjectStore();
  hasSynced(): boolean {
    return true;
  }
  diagnostics(): readonly never[] {
    return [];
  }
}

function setup() {
  const source = new Source();
  const tls: TlsTable[] = [];
  const clock = new FakeClock();
  const controller = new Controller({
    source,
    sink: {
      publishRoutes: () => undefined,
      publishEndpoints: () => undefined,
      setReady: () => undefined,
      publishTls: (t) => tls.push(t),
    },
    pipeline: defaultPipeline,
    clock,
    logger: silentLogger(),
    translateOptions: {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    },
  });
  const put = (...objects: KubeObject[]) => {
    const kinds = new Set<KubeKind>();
    for (const o of objects) if (source.store.upsert(o)) kinds.add(o.kind);
    controller.notify({ kinds, diagnosticsChanged: false });
    clock.advance(1_000);
  };
  return { tls, controller, put, source };
}

describe('Controller TLS table', () => {
  const one = makeCertificate('a.test', { keyType: 'ecdsa' });
  const two = makeCertificate('a.test', { keyType: 'ecdsa' });
  const shop = ingress('shop')
    .cls('portico')
    .host('a.test')
    .prefix('/', svc('web', 80))
    .tls('cert', 'a.test')
    .build();

  test('publishes on the first run, again when the Secret rotates, not for unrelated changes', () => {
    const { tls, put } = setup();
    put(ingressClass('portico').build(), ...echoService('web'), shop, tlsSecret('cert', one));
    assert.equal(tls.length, 1);
    const first = tls[0]?.hosts.get('a.test')?.fingerprint;
    assert.ok(first !== undefined);
    put(...echoService('other'));
    assert.equal(tls.length, 1, 'a Service change does not republish the same certificates');
    put(tlsSecret('cert', two));
    assert.equal(tls.length, 2);
    assert.notEqual(tls[1]?.hosts.get('a.test')?.fingerprint, first);
  });

  test('a broken Secret leaves its host out and is a diagnostic on the Ingress naming the Secret', () => {
    const { tls, put, controller } = setup();
    put(
      ingressClass('portico').build(),
      ...echoService('web'),
      shop,
      tlsSecret('cert', { cert: one.cert, key: two.key }),
    );
    assert.equal(tls.at(-1)?.hosts.size, 0);
    const d = controller.model?.diagnostics.find((x) => x.code === 'PORTICO_WARN_TLS_SECRET_INVALID');
    assert.equal(d?.object, 'Ingress default/shop');
    assert.match(d?.message ?? '', /^Secret default\/cert cannot be used: tls\.key does not match/);
  });
});
