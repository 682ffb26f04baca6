/**
 * The privilege model of deploy/daemonset and the Dockerfile's runtime-kernel target, reproduced
 * without a container engine: copies of this machine's Debian nft and xtables-nft-multi get the
 * image's file capabilities (cap_net_admin,cap_net_raw+ep) and run, inside a network namespace
 * this test creates, as the pod runs them: spawned by a uid 1000 process with no capability of its
 * own (a non-root exec empties the permitted set, in the container as here) under a bounding set of
 * what the pod adds. Checked: the tools can then write netfilter rules; no_new_privs (allowPrivilegeEscalation:
 * false) or a bounding set without NET_ADMIN (capabilities not added) or a binary without file
 * capabilities cannot; iptables' nft backend needs no /run/xtables.lock. The host's ruleset is
 * byte-identical before and after.
 *
 * Needs root, ip netns, setcap, setpriv, nft and iptables: under CI=true their absence fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { hostRuleset } from '../../support/l4-lab.js';

const run = promisify(execFile);

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const argv of [
    ['ip', 'netns', 'list'],
    ['sh', '-c', 'command -v setcap'],
    ['setpriv', '--version'],
    ['nft', '--version'],
    ['iptables-nft', '--version'],
  ]) {
    try {
      await run(argv[0]!, argv.slice(1), { timeout: 10_000 });
    } catch (err) {
      return `${argv.join(' ')} does not work: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

const reason = await unavailable();
if (reason && process.env['CI'] === 'true')
  throw new Error(`the file-capability tests must run under CI=true: ${reason}`);
const skip = reason ? `needs root, ip netns, setcap, setpriv, nft and iptables-nft: ${reason}` : false;

const IMAGE_CAPS = 'cap_net_admin,cap_net_raw+ep';
const ns = `portico-fcap-${randomBytes(4).toString('hex')}`;
let dir = '';
let hostBefore = '';

interface Outcome {
  readonly code: number;
  readonly stderr: string;
}

/** Runs `argv` in the namespace as the pod's process would: uid/gid 1000, no own capabilities. */
async function asPod(
  argv: readonly string[],
  options: { bounding: string; noNewPrivs: boolean },
): Promise<Outcome> {
  const setpriv = [
    'setpriv',
    '--reuid=1000',
    '--regid=1000',
    '--clear-groups',
    '--inh-caps=-all',
    `--bounding-set=${options.bounding}`,
    ...(options.noNewPrivs ? ['--no-new-privs'] : []),
  ];
  try {
    // `sh` stands for node: the pod's process is an exec'd program whose permitted set the exec
    // emptied, and it spawns the tool. setpriv exec'ing the tool itself would hand over the
    // capabilities setpriv still holds, which no_new_privs then lets through.
    const { stderr } = await run(
      'ip',
      ['netns', 'exec', ns, ...setpriv, 'sh', '-c', 'exec "$@"', 'sh', ...argv],
      {
        timeout: 20_000,
      },
    );
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(err) };
  }
}

async function inNamespace(argv: readonly string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, ...argv], { timeout: 20_000 })).stdout;
}

describe('file capabilities as deploy/daemonset grants them', { skip }, () => {
  before(async () => {
    hostBefore = await hostRuleset();
    dir = mkdtempSync(join(tmpdir(), 'portico-fcap-'));
    chmodSync(dir, 0o755);
    for (const [tool, name] of [
      ['nft', 'nft-capped'],
      ['nft', 'nft-plain'],
      ['xtables-nft-multi', 'xtables-nft-multi'],
    ] as const) {
      copyFileSync(realpathSync(`/usr/sbin/${tool}`), join(dir, name));
      chmodSync(join(dir, name), 0o755);
    }
    await run('setcap', [IMAGE_CAPS, join(dir, 'nft-capped')]);
    await run('setcap', [IMAGE_CAPS, join(dir, 'xtables-nft-multi')]);
    await run('ip', ['netns', 'add', ns]);
  });

  after(async () => {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
    assert.equal(await hostRuleset(), hostBefore, "the host's ruleset is untouched");
  });

  const POD_BOUNDING = '-all,+net_admin,+net_raw';
  const cases = [
    {
      rule: 'a tool with the image file capabilities writes rules as uid 1000 when the pod adds NET_ADMIN and NET_RAW and allows escalation',
      binary: 'nft-capped',
      bounding: POD_BOUNDING,
      noNewPrivs: false,
      works: true,
    },
    {
      rule: 'allowPrivilegeEscalation: false (no_new_privs) keeps the file capabilities from applying',
      binary: 'nft-capped',
      bounding: POD_BOUNDING,
      noNewPrivs: true,
      works: false,
    },
    {
      rule: 'a pod that drops all capabilities and adds none bounds the file capabilities to nothing',
      binary: 'nft-capped',
      bounding: '-all',
      noNewPrivs: false,
      works: false,
    },
    {
      rule: 'a binary without file capabilities gets nothing from the bounding set alone',
      binary: 'nft-plain',
      bounding: POD_BOUNDING,
      noNewPrivs: false,
      works: false,
    },
  ];
  for (const [i, c] of cases.entries()) {
    test(c.rule, async () => {
      const table = `fcap_${i}`;
      const outcome = await asPod([join(dir, c.binary), 'add', 'table', 'inet', table], c);
      const tables = await inNamespace(['nft', 'list', 'tables']);
      if (c.works) {
        assert.equal(outcome.code, 0, outcome.stderr);
        assert.match(tables, new RegExp(`^table inet ${table}$`, 'm'));
      } else {
        assert.notEqual(outcome.code, 0);
        assert.match(outcome.stderr, /Operation not permitted/);
        assert.doesNotMatch(tables, new RegExp(`\\b${table}\\b`));
      }
    });
  }

  test('iptables-restore -w (nft backend) writes rules as uid 1000 without /run/xtables.lock', async () => {
    const payload = '*nat\n:PORTICO-FCAP - [0:0]\nCOMMIT\n';
    const script = `printf '${payload.replaceAll('\n', '\\n')}' | "$0" iptables-restore -w --noflush`;
    const outcome = await asPod(['sh', '-c', script, join(dir, 'xtables-nft-multi')], {
      bounding: POD_BOUNDING,
      noNewPrivs: false,
    });
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(await inNamespace(['iptables-nft-save', '-t', 'nat']), /^:PORTICO-FCAP - \[0:0\]$/m);
  });
});
