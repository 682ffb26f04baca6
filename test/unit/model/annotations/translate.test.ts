/**
 * Annotations through translation and compilation: diagnostics, fail-closed policies, host scope,
 * TLS hosts in the model and `tlsHost` / `policy` on every compiled answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSnapshot } from '../../../../src/compile/snapshot.js';
import type { Diagnostic } from '../../../../src/model/diagnostics.js';
import type { KubeObject } from '../../../../src/model/objects.js';
import { translate } from '../../../../src/model/translate/translate.js';
import { validateIngress } from '../../../../src/model/translate/validate.js';
import { DEFAULT_ROUTE_POLICY, type RoutingModel } from '../../../../src/model/types.js';
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
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

const model = (...objects: readonly KubeObject[]): RoutingModel =>
  translate(inputFrom([cls, web, ...objects]), TEST_OPTIONS);
const codes = (m: RoutingModel, code: Diagnostic['code']): Diagnostic[] =>
  m.diagnostics.filter((d) => d.code === code);

describe('diagnostics', () => {
  test('unknown keys under our prefixes are warnings naming the field; the Ingress is served', () => {
    const m = model(
      ingress('shop')
        .cls('portico')
        .annotate(`${N}mirror-target`, '/')
        .annotate(`${P}nope`, 'x')
        .host('a.test')
        .prefix('/', svc('web', 80))
        .build(),
    );
    assert.deepEqual(
      codes(m, 'PORTICO_WARN_ANNOTATION_UNKNOWN').map((d) => [d.severity, d.object, d.field]),
      [
        ['warning', 'Ingress default/shop', `metadata.annotations["${N}mirror-target"]`],
        ['warning', 'Ingress default/shop', `metadata.annotations["${P}nope"]`],
      ],
    );
    assert.equal(m.ingresses[0]?.state, 'served');
  });

  test('an invalid value rejects the Ingress (validateIngress): error with the field path', () => {
    const bad = ingress('shop')
      .cls('portico')
      .annotate(`${N}ssl-redirect`, 'sometimes')
      .host('a.test')
      .prefix('/', svc('web', 80))
      .build();
    const errors = validateIngress(stored(bad));
    assert.deepEqual(
      errors.map((d) => [d.severity, d.code, d.field, d.message]),
      [
        [
          'error',
          'PORTICO_ERR_ANNOTATION_INVALID',
          `metadata.annotations["${N}ssl-redirect"]`,
          '"sometimes": must be "true" or "false"',
        ],
      ],
    );
    const m = model(bad);
    assert.equal(m.ingresses[0]?.state, 'rejected');
    assert.equal(m.routes.length, 0);
  });

  test('a valid annotation set validates clean', () => {
    const good = ingress('shop')
      .cls('portico')
      .annotate(`${N}ssl-redirect`, 'false')
      .annotate(`${P}backend-protocol`, 'GRPC')
      .host('a.test')
      .prefix('/', svc('web', 80))
      .build();
    assert.deepEqual(validateIngress(stored(good)), []);
  });

  test('a cross-namespace proxy-ssl-secret fails closed: deny on the routes and a DENIED warning', () => {
    const m = model(
      ingress('shop')
        .cls('portico')
        .annotate(`${N}backend-protocol`, 'HTTPS')
        .annotate(`${N}proxy-ssl-secret`, 'kube-system/ca')
        .host('a.test')
        .prefix('/', svc('web', 80))
        .defaultBackend(svc('web', 80))
        .build(),
    );
    const denied = codes(m, 'PORTICO_WARN_ANNOTATION_DENIED');
    assert.equal(denied.length, 1);
    assert.equal(denied[0]?.field, `metadata.annotations["${N}proxy-ssl-secret"]`);
    assert.match(denied[0]?.message ?? '', /another namespace.*the routes it covers answer 503$/);
    assert.match(m.routes[0]?.policy?.deny ?? '', /kube-system\/ca/);
    assert.equal(m.hostDefaults.get('a.test')?.policy, m.routes[0]?.policy, 'one policy object per Ingress');
  });

  test('a cross-namespace auth-tls-secret fails closed for the host', () => {
    const m = model(
      ingress('shop')
        .cls('portico')
        .annotate(`${N}auth-tls-secret`, 'other/ca')
        .host('a.test')
        .prefix('/', svc('web', 80))
        .build(),
    );
    assert.equal(codes(m, 'PORTICO_WARN_ANNOTATION_DENIED').length, 1);
    assert.match(m.clientAuth?.get('a.test')?.deny ?? '', /Secret other\/ca is in another namespace/);
  });

  test('an Ingress without annotations keeps the model free of policies', () => {
    const m = model(ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80)).build());
    assert.equal(m.routes[0]?.policy, undefined);
    assert.equal(m.clientAuth, undefined);
    assert.equal(m.tlsHosts, undefined);
  });
});

describe('auth-tls host scope', () => {
  const withAuth = (name: string, created: string, secret: string, verify: string) =>
    ingress(name)
      .cls('portico')
      .created(created)
      .annotate(`${N}auth-tls-secret`, secret)
      .annotate(`${N}auth-tls-verify-client`, verify)
      .host('a.test')
      .prefix(`/${name}`, svc('web', 80))
      .build();

  test('the oldest Ingress of the host supplies it; the younger one is told it is ignored', () => {
    const m = model(withAuth('young', T2, 'young-ca', 'optional'), withAuth('old', T1, 'old-ca', 'on'));
    const auth = m.clientAuth?.get('a.test');
    assert.equal(auth?.ingress, 'default/old');
    assert.deepEqual(auth?.caSecret, { namespace: 'default', name: 'old-ca' });
    assert.equal(auth?.verify, 'on');
    const ignored = codes(m, 'PORTICO_WARN_HOST_ANNOTATION_IGNORED');
    assert.equal(ignored.length, 1);
    assert.equal(ignored[0]?.object, 'Ingress default/young');
    assert.equal(ignored[0]?.field, `metadata.annotations["${N}auth-tls-secret"]`);
    assert.match(ignored[0]?.message ?? '', /host "a\.test" are ignored: Ingress default\/old \(older\)/);
  });

  test('an Ingress of the host without auth-tls gets the host policy all the same', () => {
    const plain = ingress('plain')
      .cls('portico')
      .created(T2)
      .host('a.test')
      .prefix('/plain', svc('web', 80))
      .build();
    const snap = compileSnapshot(model(withAuth('old', T1, 'ca', 'on'), plain), 1);
    assert.equal(snap.match('a.test', '/plain').clientAuth?.ingress, 'default/old');
    assert.equal(snap.match('a.test', '/old').clientAuth?.ingress, 'default/old');
    assert.equal(snap.match('b.test', '/old').clientAuth, undefined);
  });
});

describe('TLS hosts and tlsHost on compiled answers', () => {
  const m = model(
    ingress('tls')
      .cls('portico')
      .annotate(`${N}ssl-redirect`, 'false')
      .host('a.test')
      .prefix('/', svc('web', 80))
      .host('x.w.test')
      .prefix('/', svc('web', 80))
      .host('*.w.test')
      .prefix('/', svc('web', 80))
      .host('*.v.test')
      .prefix('/', svc('web', 80))
      .tls('a-cert', 'A.test')
      .tls('w-cert', '*.w.test', 'only.v.test')
      .build(),
    ingress('notls')
      .cls('portico')
      .host('plain.test')
      .prefix('/api', svc('web', 80))
      .defaultBackend(svc('web', 80))
      .build(),
    ingress('hostless').cls('portico').prefix('/', svc('web', 80)).build(),
  );
  const snap = compileSnapshot(m, 1);

  test('tlsHosts lists every spec.tls host, lowercased and sorted', () => {
    assert.deepEqual(m.tlsHosts, ['*.w.test', 'a.test', 'only.v.test']);
  });

  const rows = [
    ['a precise TLS host', 'a.test', '/x', 'path', true],
    ['a precise rule host under a TLS wildcard', 'x.w.test', '/', 'path', true],
    ['a wildcard rule host listed as the same wildcard', 'y.w.test', '/', 'path', true],
    ['a wildcard rule host with only a precise TLS name under it', 'only.v.test', '/', 'path', false],
    ['a host without TLS', 'plain.test', '/api', 'path', false],
    ['the host default of a host without TLS', 'plain.test', '/other', 'host-default', false],
    ['rules without host never count', 'unknown.test', '/', 'path', false],
  ] as const;
  for (const [name, host, path, kind, tlsHost] of rows) {
    test(`${name}: ${host}${path} → ${kind}, tlsHost ${tlsHost}`, () => {
      const a = snap.match(host, path);
      assert.equal(a.kind, kind);
      assert.equal(a.tlsHost, tlsHost);
    });
  }

  test('the policy of the answering Ingress rides on the answer; others get the default', () => {
    assert.equal(snap.match('a.test', '/').policy.sslRedirect, false);
    assert.equal(snap.match('plain.test', '/api').policy, DEFAULT_ROUTE_POLICY);
  });

  test('a 404 on a TLS host carries tlsHost (so it redirects like the routes)', () => {
    const only = compileSnapshot(
      model(
        ingress('tls')
          .cls('portico')
          .host('a.test')
          .exact('/only', svc('web', 80))
          .tls('c', 'a.test')
          .build(),
      ),
      2,
    );
    const a = only.match('a.test', '/elsewhere');
    assert.equal(a.kind, 'not-found');
    assert.equal(a.tlsHost, true);
    assert.equal(a.policy, DEFAULT_ROUTE_POLICY);
    assert.equal(only.match('b.test', '/elsewhere').tlsHost, false);
  });
});
