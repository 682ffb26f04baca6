/**
 * deploy/daemonset/ (one hostNetwork Portico per node, kernel L4 mode) against the default install
 * in deploy/: rendered as kustomize does, validated against the Kubernetes schemas, its arguments
 * run through Portico's own flag parser, and every difference from the default spelled out, so
 * the capabilities it adds are exactly NET_ADMIN and NET_RAW and nothing else drifts. The
 * Dockerfile's runtime-kernel target is checked statically (there is no container engine here).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DaemonSet, Deployment, type IDaemonSet, type IDeployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IContainer, IEnvVar, IPodSpec } from 'kubernetes-models/v1';
import { Namespace, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { type PorticoConfig, parseFlags } from '../../../src/cli/flags.js';
import { addressesFromService } from '../../../src/k8s/status/address.js';
import type { Service as ServiceObject } from '../../../src/model/objects.js';
import { type Manifest, manifestId, renderKustomization } from '../../support/kustomize.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const defaultInstall = renderKustomization(join(root, 'deploy'));
const daemonsetInstall = renderKustomization(join(root, 'deploy/daemonset'));

function find<T>(objects: readonly Manifest[], kind: string, name = 'portico'): T {
  const found = objects.filter(
    (o) => manifestId(o).startsWith(`${kind} `) && manifestId(o).endsWith(`/${name}`),
  );
  assert.equal(found.length, 1, `exactly one ${kind} ${name}`);
  return found[0] as T;
}

const deployment = find<IDeployment>(defaultInstall, 'Deployment');
const daemonset = find<IDaemonSet>(daemonsetInstall, 'DaemonSet');
const deploymentPod: IPodSpec = deployment.spec!.template.spec!;
const daemonsetPod: IPodSpec = daemonset.spec!.template.spec!;
const deploymentContainer: IContainer = deploymentPod.containers[0]!;
const daemonsetContainer: IContainer = daemonsetPod.containers[0]!;

/** What the kubelet puts in each fieldRef env var; `status.hostIP` is a documentation address. */
const FIELD_VALUES: Readonly<Record<string, string>> = {
  'metadata.name': 'portico-x7k2p',
  'metadata.namespace': 'portico',
  'status.hostIP': '192.0.2.10',
};

/**
 * The kubelet's `$(VAR)` expansion of container args from the container's env (Kubernetes'
 * expansion rules: a reference to an undefined variable stays as it is, which Portico would then
 * parse literally; this refuses it instead).
 */
function expandArgs(container: IContainer): string[] {
  const env = new Map(
    (container.env ?? []).map((e: IEnvVar) => {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      const value = e.value ?? (path === undefined ? undefined : FIELD_VALUES[path]);
      assert.ok(value !== undefined, `env ${e.name} has a value or a known fieldRef`);
      return [e.name, value] as const;
    }),
  );
  return (container.args ?? []).map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
      const value = env.get(name);
      assert.ok(value !== undefined, `$(${name}) in args refers to an env var of the container`);
      return value;
    }),
  );
}

function runConfig(args: readonly string[]): PorticoConfig {
  const command = parseFlags(args);
  assert.equal(command.kind, 'run');
  if (command.kind !== 'run') throw new Error('unreachable');
  return command.config;
}

const deploymentConfig = runConfig(expandArgs(deploymentContainer));
const daemonsetConfig = runConfig(expandArgs(daemonsetContainer));

describe('deploy/daemonset renders as kustomize renders it', () => {
  const byId = (objects: readonly Manifest[]) =>
    [...objects].sort((a, b) => manifestId(a).localeCompare(manifestId(b)));

  // The goldens are `kubectl kustomize <dir>` output (kubectl v1.32, Kustomize v5.5.0), so CI
  // machines without kubectl still check the renderer against real kustomize. Where kubectl is
  // installed, the same test also checks the goldens are still what it renders. Regenerate with:
  //   kubectl kustomize deploy > test/golden/deploy/default.kustomize.yaml
  //   kubectl kustomize deploy/daemonset > test/golden/deploy/daemonset.kustomize.yaml
  for (const [dir, rendered, golden] of [
    ['deploy', defaultInstall, 'default.kustomize.yaml'],
    ['deploy/daemonset', daemonsetInstall, 'daemonset.kustomize.yaml'],
  ] as const) {
    test(`kustomize's rendering of ${dir} (golden, and kubectl where installed) equals the test's renderer`, () => {
      const goldenText = readFileSync(join(root, 'test/golden/deploy', golden), 'utf8');
      const fromGolden = parseAllDocuments(goldenText).map((d) => d.toJS() as Manifest);
      assert.deepEqual(
        byId(fromGolden),
        byId(rendered),
        `test/golden/deploy/${golden} is stale or the renderer is wrong`,
      );
      let output: string | undefined;
      try {
        output = execFileSync('kubectl', ['kustomize', join(root, dir)], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (output !== undefined)
        assert.equal(output, goldenText, `kubectl kustomize ${dir} differs from its golden`);
    });
  }

  const validators: Readonly<Record<string, (o: Manifest) => { validate(): void }>> = {
    DaemonSet: (o) => new DaemonSet(o as unknown as IDaemonSet),
    Namespace: (o) => new Namespace(o),
    Service: (o) => new Service(o),
    PodDisruptionBudget: (o) => new PodDisruptionBudget(o),
  };
  for (const object of daemonsetInstall) {
    const validate = validators[String(object['kind'])];
    if (validate === undefined) continue; // Unchanged from the base, validated by manifests.test.ts.
    test(`${manifestId(object)} is a valid ${String(object['kind'])}`, () => {
      validate(object).validate();
    });
  }

  test('the Deployment is validated by the same schemas (the comparison below is between valid objects)', () => {
    new Deployment(deployment).validate();
  });
});

describe('deploy/daemonset differs from deploy/ exactly where it says', () => {
  test('it holds the default objects with the Deployment replaced by the DaemonSet', () => {
    const ids = (objects: readonly Manifest[]) => objects.map(manifestId).sort();
    const expected = ids(defaultInstall)
      .filter((id) => id !== 'Deployment portico/portico')
      .concat('DaemonSet portico/portico')
      .sort();
    assert.deepEqual(ids(daemonsetInstall), expected);
  });

  test('every shared object is identical but the namespace labels and the Service type', () => {
    const changed: string[] = [];
    for (const object of daemonsetInstall) {
      const id = manifestId(object);
      const original = defaultInstall.find((o) => manifestId(o) === id);
      if (original === undefined) continue;
      if (JSON.stringify(object) !== JSON.stringify(original)) changed.push(id);
    }
    assert.deepEqual(changed.sort(), ['Namespace /portico', 'Service portico/portico']);
  });

  test('the namespace admits privileged pods (hostNetwork and NET_ADMIN are outside baseline)', () => {
    const labels = find<Namespace>(daemonsetInstall, 'Namespace').metadata?.labels ?? {};
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'privileged');
    const base = find<Namespace>(defaultInstall, 'Namespace').metadata?.labels ?? {};
    assert.equal(base['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  test('Service portico is a NodePort Service Portico publishes node addresses for', () => {
    const svc = find<ServiceObject>(daemonsetInstall, 'Service');
    assert.equal(svc.spec?.type, 'NodePort');
    assert.equal(addressesFromService(svc), 'nodes');
    assert.deepEqual(daemonsetConfig.cluster.publishService, { namespace: 'portico', name: 'portico' });
  });

  test('the Services and the PodDisruptionBudget still select the DaemonSet pods', () => {
    const labels = daemonset.spec?.template.metadata?.labels ?? {};
    const selects = (selector: Readonly<Record<string, string>> | undefined) =>
      selector !== undefined &&
      Object.keys(selector).length > 0 &&
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(selects(daemonset.spec?.selector.matchLabels));
    for (const object of daemonsetInstall) {
      const kind = object['kind'];
      if (kind === 'Service')
        assert.ok(selects((object as { spec?: { selector?: Record<string, string> } }).spec?.selector));
      if (kind === 'PodDisruptionBudget')
        assert.ok(
          selects(
            (object as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec?.selector
              ?.matchLabels,
          ),
        );
    }
  });

  test("the container differs from the Deployment's only in image, args, env and securityContext", () => {
    const rest = ({ image: _i, args: _a, env: _e, securityContext: _s, ...other }: IContainer) => other;
    assert.deepEqual(rest(daemonsetContainer), rest(deploymentContainer));
    assert.equal(daemonsetPod.containers.length, 1);
  });

  test("the pod differs from the Deployment's in host networking only: no host paths, same volumes", () => {
    const rest = ({
      containers: _c,
      hostNetwork: _h,
      dnsPolicy: _d,
      topologySpreadConstraints: _t,
      ...other
    }: IPodSpec) => other;
    assert.deepEqual(rest(daemonsetPod), rest(deploymentPod));
    assert.equal(daemonsetPod.hostNetwork, true);
    assert.equal(daemonsetPod.dnsPolicy, 'ClusterFirstWithHostNet', 'cluster DNS despite hostNetwork');
    assert.ok((daemonsetPod.volumes ?? []).every((v) => v.hostPath === undefined));
  });

  test('the image is the kernel target, under a name of its own', () => {
    assert.match(daemonsetContainer.image ?? '', /^portico-kernel:/);
    assert.match(deploymentContainer.image ?? '', /^portico:/);
  });

  test('rolls one node at a time without surge (the new pod needs the ports the old one holds)', () => {
    assert.deepEqual(daemonset.spec?.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
  });
});

describe("the two variants' security contexts", () => {
  const cases = [
    {
      variant: 'the default Deployment',
      container: deploymentContainer,
      pod: deploymentPod,
      capabilities: { drop: ['ALL'] },
      allowPrivilegeEscalation: false,
      hostNetwork: undefined,
    },
    {
      // File capabilities need no_new_privs off, i.e. allowPrivilegeEscalation: true (daemonset.yaml).
      variant: 'the DaemonSet',
      container: daemonsetContainer,
      pod: daemonsetPod,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      allowPrivilegeEscalation: true,
      hostNetwork: true,
    },
  ];
  for (const c of cases) {
    test(`${c.variant} drops all capabilities and adds ${c.capabilities.add?.join(' and ') ?? 'none'}`, () => {
      assert.deepEqual(c.container.securityContext?.capabilities, c.capabilities);
      assert.equal(c.container.securityContext?.allowPrivilegeEscalation, c.allowPrivilegeEscalation);
      assert.equal(c.pod.hostNetwork, c.hostNetwork);
    });

    test(`${c.variant} runs non-root as uid 1000 with a read-only root filesystem and RuntimeDefault seccomp`, () => {
      for (const context of [c.container.securityContext, c.pod.securityContext]) {
        assert.equal(context?.runAsNonRoot, true);
        assert.equal(context?.runAsUser, 1000);
        assert.equal(context?.seccompProfile?.type, 'RuntimeDefault');
      }
      assert.equal(c.container.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(c.container.securityContext?.privileged, undefined);
    });
  }
});

describe("the DaemonSet's arguments, through Portico's flag parser", () => {
  test('NODE_IP comes from the downward API (status.hostIP)', () => {
    const env = (daemonsetContainer.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]);
    assert.deepEqual(env, [
      ...(deploymentContainer.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      ['NODE_IP', 'status.hostIP'],
    ]);
  });

  test('pick nftables, a kernel mode, on the node address the kubelet expands $(NODE_IP) to', () => {
    assert.equal(daemonsetConfig.l4.mode, 'nftables');
    assert.notEqual(daemonsetConfig.l4.mode, deploymentConfig.l4.mode);
    assert.equal(deploymentConfig.l4.mode, 'userspace');
    assert.equal(daemonsetConfig.l4.nodeIp, FIELD_VALUES['status.hostIP']);
  });

  test('leave kernel rules in place when Portico stops (no --cleanup-on-exit, as kube-proxy)', () => {
    assert.equal(daemonsetConfig.l4.cleanupOnExit, false);
    assert.ok(!(daemonsetContainer.args ?? []).includes('--cleanup-on-exit'));
  });

  test('configure everything else exactly as the Deployment does', () => {
    const { l4: _daemonsetL4, ...daemonsetRest } = daemonsetConfig;
    const { l4: _deploymentL4, ...deploymentRest } = deploymentConfig;
    assert.deepEqual(daemonsetRest, deploymentRest);
  });

  test('redirect node ports 80/443 to the unprivileged listeners (--redirect-privileged-ports)', () => {
    assert.equal(daemonsetConfig.l4.redirectPrivilegedPorts, true);
    assert.notEqual(deploymentConfig.l4.redirectPrivilegedPorts, true);
  });
});

describe("the Dockerfile's targets", () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  /** Stages in order, each with its base and its instructions (continuation lines joined). */
  const stages = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .reduce<{ name: string; from: string; instructions: string[] }[]>((acc, line) => {
      const from = /^FROM\s+(\S+)\s+AS\s+(\S+)$/.exec(line);
      if (from) acc.push({ name: from[2]!, from: from[1]!, instructions: [] });
      else acc.at(-1)?.instructions.push(line);
      return acc;
    }, []);
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    assert.ok(found, `stage ${name}`);
    return found;
  };
  /** The instructions an image built with `--target name` runs, base stages first. */
  const chain = (name: string): string[] => {
    const s = stage(name);
    const parent = stages.find((p) => p.name === s.from);
    return [...(parent ? chain(parent.name) : []), ...s.instructions];
  };
  const kernel = stage('runtime-kernel');
  const run = kernel.instructions.filter((i) => i.startsWith('RUN ')).join('\n');

  test('a plain docker build (no --target) builds runtime, the user-space image', () => {
    assert.equal(stages.at(-1)?.name, 'runtime');
    const instructions = chain('runtime');
    assert.ok(!instructions.some((i) => /apt-get|setcap/.test(i)), 'no tools, no file capabilities');
    assert.equal(instructions.filter((i) => i.startsWith('USER ')).at(-1), 'USER 1000:1000');
  });

  test('runtime-kernel is runtime plus the tools, still running as uid 1000', () => {
    assert.equal(kernel.from, stage('runtime').from, 'both build on the same application stage');
    assert.equal(
      chain('runtime-kernel')
        .filter((i) => i.startsWith('USER '))
        .at(-1),
      'USER 1000:1000',
    );
  });

  test('runtime-kernel installs iptables, nftables, ipvsadm and conntrack without recommends, lists cleaned', () => {
    const install = /apt-get install -y --no-install-recommends ([^;]+);/.exec(run)?.[1]?.trim().split(/\s+/);
    assert.deepEqual(install?.sort(), ['conntrack', 'iptables', 'ipvsadm', 'libcap2-bin', 'nftables']);
    assert.match(run, /apt-get purge -y libcap2-bin;/, 'setcap itself does not stay in the image');
    assert.match(run, /rm -rf \/var\/lib\/apt\/lists\/\*/);
    assert.match(run, /find \/ -xdev -type f -perm \/6000 -exec chmod a-s \{\} \+/, 'setuid/setgid stripped');
  });

  test('runtime-kernel grants cap_net_admin,cap_net_raw+ep to the resolved binaries and checks them', () => {
    assert.match(run, /setcap cap_net_admin,cap_net_raw\+ep "\$\(readlink -f "\$\(command -v "\$tool"\)"\)"/);
    assert.match(
      run,
      /getcap "\$\(readlink -f "\$\(command -v "\$tool"\)"\)" \| grep -q 'cap_net_admin,cap_net_raw=ep'/,
    );
  });

  // The tools src/l4/apply spawns. On a Debian bookworm machine with the four packages (this one,
  // CI), each must resolve to a binary the setcap loop covers, or to a script that runs one.
  const SPAWNED = [
    'iptables',
    'ip6tables',
    'iptables-restore',
    'ip6tables-restore',
    'iptables-save',
    'ip6tables-save',
    'nft',
    'ipvsadm',
    'ipvsadm-save',
    'conntrack',
  ];
  const loop = (verb: string) => {
    const m = new RegExp(`for tool in ([^;]+); do\\s+${verb} `).exec(run);
    assert.ok(m, `a ${verb} loop`);
    return m[1]!.trim().split(/\s+/);
  };
  const which = (tool: string): string | undefined => {
    try {
      return realpathSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim());
    } catch {
      return undefined;
    }
  };
  for (const tool of SPAWNED) {
    test(`${tool}, which Portico runs, gets the file capabilities through the setcap loop`, (t) => {
      const resolved = which(tool);
      if (resolved === undefined) {
        t.skip(`${tool} is not installed here: the Debian resolution cannot be checked`);
        return;
      }
      const capped = new Set(loop('setcap').map(which));
      const head = readFileSync(resolved).subarray(0, 2).toString('latin1');
      if (head === '#!') {
        // ipvsadm-save: a script that runs ipvsadm, which carries the capabilities.
        assert.match(readFileSync(resolved, 'utf8'), /^[^#\n]*\bipvsadm -[SR]\b/m);
        assert.ok(capped.has(which('ipvsadm')));
      } else assert.ok(capped.has(resolved), `${tool} → ${resolved}`);
    });
  }

  test('the getcap check covers every binary the setcap loop sets but the legacy iptables backend', (t) => {
    const set = loop('setcap').filter((tool) => tool !== 'iptables-legacy');
    if (set.some((tool) => which(tool) === undefined)) {
      t.skip('the tools are not installed here: the Debian resolution cannot be checked');
      return;
    }
    const checked = new Set(loop('getcap').map(which));
    for (const tool of set) assert.ok(checked.has(which(tool)), tool);
  });
});
