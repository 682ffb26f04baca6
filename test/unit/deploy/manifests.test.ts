/**
 * deploy/base/ (what `kubectl apply -k deploy/` installs) is checked, not trusted: every object against the Kubernetes OpenAPI schemas
 * (kubernetes-models), RBAC against src/k8s/permissions.ts (exactly, both ways), the Deployment's
 * arguments through Portico's own flag parser, and every cross-reference (selectors, named ports,
 * Secret, webhook Service and path) against its target.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type IValidatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { type IIngressClass, IngressClass } from 'kubernetes-models/networking.k8s.io/v1';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  type IClusterRole,
  type IClusterRoleBinding,
  type IPolicyRule,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  type IContainer,
  type IPodSpec,
  type IService,
  Namespace,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { REVIEW_PATHS } from '../../../src/admission/server.js';
import { FLAGS, parseDuration, parseFlags } from '../../../src/cli/flags.js';
import { REQUIRED_PERMISSIONS } from '../../../src/k8s/permissions.js';

const deployRoot = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const deployDir = join(deployRoot, 'base');

/** `Obj` is any manifest as parsed; `only` casts to the kubernetes-models type once it is validated. */
interface Obj {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: unknown;
}

/** The fields of cert-manager.io/v1 objects this install relies on. */
interface CertificateObj extends Obj {
  readonly spec: {
    readonly secretName: string;
    readonly dnsNames: readonly string[];
    readonly duration?: string;
    readonly renewBefore?: string;
    readonly issuerRef: { readonly kind: string; readonly name: string };
  };
}

interface Model {
  validate(): void;
}

function wrap<D>(C: new (data?: D) => Model): (o: unknown) => Model {
  return (o) => new C(o as D);
}

/** kubernetes-models validators by `apiVersion kind`. */
const MODELS: Readonly<Record<string, (o: unknown) => Model>> = {
  'v1 Namespace': wrap(Namespace),
  'v1 ServiceAccount': wrap(ServiceAccount),
  'v1 Service': wrap(Service),
  'apps/v1 Deployment': wrap(Deployment),
  'policy/v1 PodDisruptionBudget': wrap(PodDisruptionBudget),
  'networking.k8s.io/v1 IngressClass': wrap(IngressClass),
  'rbac.authorization.k8s.io/v1 ClusterRole': wrap(ClusterRole),
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': wrap(ClusterRoleBinding),
  'rbac.authorization.k8s.io/v1 Role': wrap(Role),
  'rbac.authorization.k8s.io/v1 RoleBinding': wrap(RoleBinding),
  'admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration': wrap(ValidatingWebhookConfiguration),
};

/**
 * cert-manager kinds have no kubernetes-models package installed; these checks cover the fields the
 * install depends on (cert-manager.io/v1 API reference).
 */
const CERT_MANAGER: Readonly<Record<string, (o: Obj) => void>> = {
  'cert-manager.io/v1 Issuer': (o) => {
    assert.deepEqual(Object.keys(o.spec ?? {}), ['selfSigned'], 'a self-signed Issuer');
  },
  'cert-manager.io/v1 Certificate': (o) => {
    const { spec } = o as Partial<CertificateObj>;
    assert.equal(typeof spec?.secretName, 'string');
    assert.ok(Array.isArray(spec?.dnsNames) && spec.dnsNames.length > 0);
    assert.ok(['Issuer', 'ClusterIssuer'].includes(spec?.issuerRef?.kind ?? ''));
    assert.equal(typeof spec?.issuerRef?.name, 'string');
    for (const d of [spec?.duration, spec?.renewBefore]) {
      assert.match(d ?? '', /^\d+h$/, 'durations are Go durations in hours');
    }
  },
};

interface Loaded {
  readonly file: string;
  readonly object: Obj;
}

const yamlFiles = readdirSync(deployDir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();

const objects: Loaded[] = yamlFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(deployDir, file), 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object = doc.toJS() as Obj | null;
    return object === null ? [] : [{ file, object }];
  }),
);

/** `only` returns the one object of `kind` (and `name`), typed as its (validated) schema. */
function only<T = Obj>(kind: string, name?: string): T {
  const found = objects.filter(
    (o) => o.object.kind === kind && (name === undefined || o.object.metadata?.name === name),
  );
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!.object as T;
}

function all<T = Obj>(kind: string): T[] {
  return objects.filter((o) => o.object.kind === kind).map((o) => o.object as T);
}

const NAMESPACE = 'portico';
const deployment = only<IDeployment>('Deployment', 'portico');
const podSpec: IPodSpec = deployment.spec!.template.spec!;
const container: IContainer = podSpec.containers[0]!;
const args: string[] = container.args ?? [];
const podLabels: Readonly<Record<string, string>> = deployment.spec!.template.metadata!.labels!;

function containerPort(name: string | number | undefined): number {
  const port = (container.ports ?? []).find((p) => p.name === name);
  assert.ok(port, `container port ${name}`);
  return port.containerPort;
}

function selects(selector: Readonly<Record<string, string>> | undefined): boolean {
  return selector !== undefined && Object.entries(selector).every(([k, v]) => podLabels[k] === v);
}

function runConfig() {
  const command = parseFlags(args);
  assert.equal(command.kind, 'run');
  if (command.kind !== 'run') throw new Error('unreachable');
  return command.config;
}

describe('deploy/base/ objects', () => {
  test('the folder holds manifests (the scan works)', () => {
    assert.ok(yamlFiles.length >= 8);
    assert.ok(objects.length >= 12);
  });

  for (const { file, object } of objects) {
    const id = `${object.apiVersion} ${object.kind}`;
    test(`${file}: ${object.kind} ${object.metadata?.name} is a valid ${id}`, () => {
      const model = MODELS[id];
      const certManager = CERT_MANAGER[id];
      assert.ok(model || certManager, `no validator for ${id}: add one to this test`);
      if (model) model(object).validate();
      else certManager?.(object);
    });
  }

  test('namespaced objects all live in the portico namespace, which is defined here', () => {
    only('Namespace', NAMESPACE);
    const clusterScoped = new Set([
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
      'IngressClass',
      'ValidatingWebhookConfiguration',
    ]);
    for (const { file, object } of objects) {
      const ns = object.metadata?.namespace;
      if (clusterScoped.has(object.kind ?? ''))
        assert.equal(ns, undefined, `${file}: ${object.kind} is cluster-scoped`);
      else assert.equal(ns, NAMESPACE, `${file}: ${object.kind} ${object.metadata?.name}`);
    }
  });

  test('no two objects share kind, namespace and name', () => {
    const ids = objects.map(
      ({ object }) => `${object.kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name}`,
    );
    assert.equal(ids.length, new Set(ids).size, ids.join(', '));
  });
});

describe('deploy/kustomization.yaml and deploy/base/kustomization.yaml', () => {
  const readKustomization = (dir: string) =>
    parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as {
      apiVersion?: string;
      kind?: string;
      resources?: string[];
    };
  const kustomization = readKustomization(deployDir);

  test('deploy/ installs the base as it is', () => {
    const top = readKustomization(deployRoot);
    assert.equal(top.kind, 'Kustomization');
    assert.deepEqual(Object.keys(top).sort(), ['apiVersion', 'kind', 'resources']);
    assert.deepEqual(top.resources, ['base']);
  });

  test('the base lists exactly the manifests present, each once', () => {
    assert.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
    assert.equal(kustomization.kind, 'Kustomization');
    const resources = kustomization.resources ?? [];
    assert.equal(resources.length, new Set(resources).size, 'no duplicates');
    assert.deepEqual([...resources].sort(), yamlFiles);
  });

  test('kubectl kustomize deploy/ renders every object', (t) => {
    let rendered: string;
    try {
      rendered = execFileSync('kubectl', ['kustomize', deployRoot], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        t.skip('kubectl is not installed');
        return;
      }
      throw err;
    }
    const kinds = parseAllDocuments(rendered).map((d) => String((d.toJS() as Obj).kind));
    assert.deepEqual(kinds.sort(), objects.map((o) => String(o.object.kind)).sort());
  });
});

describe('RBAC equals src/k8s/permissions.ts exactly', () => {
  const triples = (rules: readonly IPolicyRule[] | undefined): string[] =>
    (rules ?? [])
      .flatMap((r) =>
        (r.apiGroups ?? []).flatMap((g) =>
          (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}|${res}|${v}`)),
        ),
      )
      .sort();
  const wanted = (scope: 'cluster' | 'own-namespace'): string[] =>
    REQUIRED_PERMISSIONS.filter((p) => p.scope === scope)
      .flatMap((p) => p.verbs.map((v) => `${p.group}|${p.resource}|${v}`))
      .sort();

  test('the ClusterRole grants the cluster-scope permissions, no more, no less', () => {
    assert.deepEqual(triples(only<IClusterRole>('ClusterRole').rules), wanted('cluster'));
  });

  test('the Role in portico grants the own-namespace permissions (Leases), no more, no less', () => {
    const role = only<IClusterRole>('Role');
    assert.equal(role.metadata?.namespace, NAMESPACE);
    assert.deepEqual(triples(role.rules), wanted('own-namespace'));
  });

  test('no rule uses wildcards, resourceNames or nonResourceURLs', () => {
    for (const role of [...all<IClusterRole>('ClusterRole'), ...all<IClusterRole>('Role')]) {
      assert.equal(role.aggregationRule, undefined);
      for (const rule of role.rules ?? []) {
        for (const list of [rule.apiGroups, rule.resources, rule.verbs])
          assert.ok(!(list ?? []).includes('*'));
        assert.equal(rule.nonResourceURLs, undefined);
        assert.equal(rule.resourceNames, undefined);
      }
    }
  });

  test('each role is bound to the portico ServiceAccount, and only to it', () => {
    const sa = only('ServiceAccount', 'portico');
    assert.equal(podSpec.serviceAccountName, sa.metadata?.name);
    for (const [bindingKind, roleKind] of [
      ['ClusterRoleBinding', 'ClusterRole'],
      ['RoleBinding', 'Role'],
    ] as const) {
      const binding = only<IClusterRoleBinding>(bindingKind);
      const role = only(roleKind);
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: roleKind,
        name: role.metadata?.name,
      });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'portico', namespace: NAMESPACE }]);
      assert.equal(binding.metadata?.namespace, role.metadata?.namespace);
    }
  });

  test('the Lease namespace Portico elects in is the Role namespace', () => {
    assert.equal(runConfig().cluster.election.namespace, only('Role').metadata?.namespace);
  });
});

describe('the Deployment', () => {
  test('runs 2 replicas with the required arguments, which Portico parses', () => {
    assert.equal(deployment.spec?.replicas, 2);
    const joined = args.join(' ');
    for (const wanted of [
      '--http-port 8080 --https-port 8443 --admin-port 10254',
      '--publish-service portico/portico',
      '--election-namespace portico',
      '--admission-listen 0.0.0.0:9443 --admission-cert-dir /etc/portico/admission',
    ]) {
      assert.ok(joined.includes(wanted), `args contain ${wanted}`);
    }
    const { proxy, cluster, manifests } = runConfig();
    assert.equal(manifests, undefined, 'cluster mode');
    assert.deepEqual([proxy.httpPort, proxy.httpsPort, proxy.adminPort], [8080, 8443, 10254]);
    assert.deepEqual(
      [containerPort('http'), containerPort('https'), containerPort('admin')],
      [8080, 8443, 10254],
    );
    assert.deepEqual(cluster.publishService, { namespace: 'portico', name: 'portico' });
    only('Service', 'portico');
    assert.deepEqual(cluster.admission, { host: '0.0.0.0', port: 9443, certDir: '/etc/portico/admission' });
    assert.equal(containerPort('webhook'), 9443);
    assert.notEqual(
      cluster.admission?.port,
      proxy.httpsPort,
      'the webhook does not share the HTTPS data port',
    );
  });

  test('POD_NAME and POD_NAMESPACE come from the downward API', () => {
    assert.deepEqual(
      (container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ],
    );
  });

  test('readiness is /readyz and liveness /healthz on the admin port', () => {
    for (const [probe, path] of [
      [container.readinessProbe, '/readyz'],
      [container.livenessProbe, '/healthz'],
    ] as const) {
      const get = probe?.httpGet;
      assert.equal(get?.path, path);
      const port = typeof get?.port === 'string' ? containerPort(get.port) : get?.port;
      assert.equal(port, 10254, `${path} on the admin port`);
    }
  });

  test('has resource requests and a memory limit', () => {
    const { requests, limits } = container.resources ?? {};
    assert.ok(requests?.['cpu'] && requests['memory']);
    assert.ok(limits?.['memory']);
  });

  test('runs non-root as uid 1000, read-only, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const c = container.securityContext;
    assert.equal(c?.runAsNonRoot, true);
    assert.equal(c?.runAsUser, 1000);
    assert.equal(c?.readOnlyRootFilesystem, true);
    assert.equal(c?.allowPrivilegeEscalation, false);
    assert.deepEqual(c?.capabilities, { drop: ['ALL'] });
    assert.equal(c?.seccompProfile?.type, 'RuntimeDefault');
    const p = podSpec.securityContext;
    assert.equal(p?.runAsNonRoot, true);
    assert.equal(p?.runAsUser, 1000);
    assert.equal(p?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(podSpec.hostNetwork, undefined);
  });

  test('spreads replicas across hostnames and zones', () => {
    const constraints = podSpec.topologySpreadConstraints ?? [];
    assert.deepEqual(constraints.map((c) => c.topologyKey).sort(), [
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const c of constraints) assert.ok(selects(c.labelSelector?.matchLabels));
  });

  test('the grace period outlasts shutdown-delay (cluster mode) + drain-timeout', () => {
    const { shutdownDelayMs, drainTimeoutMs } = runConfig().proxy;
    assert.equal(shutdownDelayMs, 5_000);
    assert.equal(drainTimeoutMs, parseDuration(FLAGS['drain-timeout'].default));
    assert.ok((podSpec.terminationGracePeriodSeconds ?? 30) * 1_000 > shutdownDelayMs + drainTimeoutMs);
  });

  test('the admission certificate Secret is the one cert-manager writes, mounted at --admission-cert-dir', () => {
    const certDir = runConfig().cluster.admission?.certDir;
    const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === certDir);
    assert.ok(mount);
    assert.equal(mount.readOnly, true);
    const volume = (podSpec.volumes ?? []).find((v) => v.name === mount.name);
    assert.equal(volume?.secret?.secretName, only<CertificateObj>('Certificate').spec.secretName);
  });

  test('selectors (Deployment, PodDisruptionBudget, Services) select the pods', () => {
    assert.ok(selects(deployment.spec?.selector.matchLabels));
    const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget');
    assert.equal(pdb.spec?.minAvailable, 1);
    assert.ok(selects(pdb.spec?.selector?.matchLabels));
    for (const svc of all<IService>('Service')) assert.ok(selects(svc.spec?.selector), svc.metadata?.name);
  });
});

describe('Services, IngressClass and webhook', () => {
  test('Service portico is a LoadBalancer: http 80 → 8080, https 443 → 8443', () => {
    const svc = only<IService>('Service', 'portico');
    assert.equal(svc.spec?.type, 'LoadBalancer');
    const ports = (svc.spec?.ports ?? []).map((p) => [p.name, p.port, containerPort(p.targetPort)]);
    assert.deepEqual(ports, [
      ['http', 80, 8080],
      ['https', 443, 8443],
    ]);
    for (const p of svc.spec?.ports ?? []) assert.equal(p.nodePort, undefined, 'the cloud assigns NodePorts');
  });

  test('the IngressClass is the one Portico serves by default', () => {
    const cls = only<IIngressClass>('IngressClass');
    assert.equal(cls.metadata?.name, FLAGS['ingress-class'].default);
    assert.equal(cls.spec?.controller, FLAGS['controller-class'].default);
  });

  const vwc = only<IValidatingWebhookConfiguration>('ValidatingWebhookConfiguration');
  const hook = vwc.webhooks?.[0];

  test('the webhook: Ingress CREATE/UPDATE, v1 reviews, no side effects, failurePolicy Ignore', () => {
    assert.equal(vwc.webhooks?.length, 1);
    assert.equal(hook?.failurePolicy, 'Ignore');
    assert.equal(hook?.sideEffects, 'None');
    assert.deepEqual(hook?.admissionReviewVersions, ['v1']);
    assert.deepEqual(hook?.rules, [
      {
        apiGroups: ['networking.k8s.io'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['ingresses'],
        scope: 'Namespaced',
      },
    ]);
  });

  test('the webhook calls Service portico-admission on a path Portico serves, port 443 → the webhook port', () => {
    const service = hook?.clientConfig.service;
    assert.equal(service?.namespace, NAMESPACE);
    assert.equal(service?.name, 'portico-admission');
    assert.ok(REVIEW_PATHS.has(service?.path ?? ''), `${service?.path} is served`);
    const svc = only<IService>('Service', 'portico-admission');
    const port = (svc.spec?.ports ?? []).find((p) => p.port === (service?.port ?? 443));
    assert.ok(port);
    assert.equal(containerPort(port.targetPort), runConfig().cluster.admission?.port);
  });

  test('the caBundle is injected from the Certificate whose names the Service answers to', () => {
    const cert = only<CertificateObj>('Certificate');
    assert.equal(
      vwc.metadata?.annotations?.['cert-manager.io/inject-ca-from'],
      `${cert.metadata?.namespace}/${cert.metadata?.name}`,
    );
    assert.ok(cert.spec.dnsNames.includes('portico-admission.portico.svc'));
    const issuer = only(cert.spec.issuerRef.kind, cert.spec.issuerRef.name);
    assert.equal(issuer.metadata?.namespace, cert.metadata?.namespace);
  });
});
