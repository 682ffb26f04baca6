/**
 * The rendered payloads fed to the real tools, each run in a fresh network namespace made with
 * `unshare -n` (never the host's): iptables-restore / ip6tables-restore `--noflush` and `nft -f`
 * must accept every golden case, a partial sync must apply on top of the full sync it follows,
 * and the rule counts the renderer reports must be what `iptables-save` then shows. The
 * simulators in test/support check meaning; this checks that the kernel agrees with the syntax.
 *
 * Needs root and `unshare`; under CI=true it must run, elsewhere it is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { changedServices, type L4State } from '../../../src/l4/model.js';
import { type IptablesRender, jumpCommands, renderIptables } from '../../../src/l4/render/iptables.js';
import { renderNftables } from '../../../src/l4/render/nftables.js';
import {
  ep,
  goldenCases,
  nftOnlyGoldenCases,
  nodeIp,
  redirectGoldenCases,
  svc,
} from '../../support/l4-fixtures.js';

const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'iptables-restore --version && nft --version'], {
  encoding: 'utf8',
  timeout: 10_000,
});
const unavailable =
  probe.status === 0
    ? undefined
    : `needs root, unshare, iptables and nft (${(probe.stderr || probe.error?.message || '').trim()})`;
if (unavailable && process.env['CI'] === 'true')
  throw new Error(`kernel rule checks must run under CI=true: ${unavailable}`);
const skip = unavailable ?? false;

const dir = mkdtempSync(join(tmpdir(), 'portico-l4-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The host's own rules, as the tools print them; they must be byte-identical after the suite. */
function hostRuleset(): string {
  const save = spawnSync('sh', ['-c', 'iptables-save 2>&1; ip6tables-save 2>&1; nft list ruleset 2>&1'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  // iptables-save stamps its output with the time: drop those comment lines.
  return save.stdout.replace(/^# (Generated|Completed) .*$/gm, '');
}
const hostBefore = unavailable === undefined ? hostRuleset() : '';
let fileCount = 0;

function file(text: string): string {
  const path = join(dir, `payload-${fileCount++}`);
  writeFileSync(path, text);
  return path;
}

/** Runs a shell script in a new, empty network namespace; returns stdout, fails with stderr. */
function inFreshNetns(script: string): string {
  const r = spawnSync('unshare', ['-n', 'sh', '-e', '-c', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `namespace script failed:\n${script}\n${r.stderr}`);
  return r.stdout;
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function iptablesApply(render: IptablesRender, tool: 'iptables' | 'ip6tables'): string {
  const jumps = render.jumps.map((jump) => {
    const { check, insert } = jumpCommands(jump);
    return `${tool} ${check.map(shellQuote).join(' ')} 2>/dev/null || ${tool} ${insert.map(shellQuote).join(' ')}`;
  });
  // Restore first: the jumps name our chains, which must exist.
  return [render.payload === '' ? ':' : `${tool}-restore --noflush < ${file(render.payload)}`, ...jumps].join(
    '\n',
  );
}

for (const c of goldenCases) {
  const tool = c.state.ipFamily === 'IPv6' ? 'ip6tables' : 'iptables';
  test(`${c.name}: ${tool}-restore accepts the payload in a fresh namespace`, { skip }, () => {
    const previous = c.previous ? renderIptables(c.previous) : undefined;
    const render = renderIptables(c.state, {
      ...(c.changed ? { changedServices: new Set(c.changed) } : {}),
      ...(previous ? { existingChains: previous.activeChains } : {}),
    });
    const steps = [
      previous ? iptablesApply(previous, tool) : ':',
      iptablesApply(render, tool),
      `${tool}-save`,
    ];
    const saved = inFreshNetns(steps.join('\n'));
    assert.equal(countRules(saved, 'nat'), render.stats.natRulesTotal + 3, 'our nat rules plus the 3 jumps');
  });

  test(`${c.name}: nft -f accepts the script in a fresh namespace`, { skip }, () => {
    const previous = c.previous ? renderNftables(c.previous) : undefined;
    const render = renderNftables(c.state, {
      ...(c.previous ? { previous: c.previous } : {}),
      ...(c.changed ? { changedServices: new Set(c.changed) } : {}),
      ...(previous ? { existingChains: previous.activeChains } : {}),
    });
    const steps = [
      previous ? `nft -f ${file(previous.script)}` : ':',
      `nft -f ${file(render.script)}`,
      'nft list table inet portico',
    ];
    const listed = inFreshNetns(steps.join('\n'));
    assert.match(listed, /table inet portico/);
  });
}

for (const c of [...redirectGoldenCases, ...nftOnlyGoldenCases]) {
  test(`${c.name}: nft -f accepts the script in a fresh namespace, and the kernel holds every rule`, {
    skip,
  }, () => {
    const render = renderNftables(c.state);
    const listed = inFreshNetns([`nft -f ${file(render.script)}`, 'nft list table inet portico'].join('\n'));
    const rules = listed
      .split('\n')
      .filter((line) => /^\t\t(?!type |policy |elements |comment )\S/.test(line));
    assert.equal(rules.length, render.stats.rulesTotal, listed);
  });
}

function countRules(save: string, table: string): number {
  const section = save.split(/^\*/m).find((s) => s.startsWith(`${table}\n`)) ?? '';
  return section.split('\n').filter((line) => line.startsWith('-A ')).length;
}

test('the repeated-sync scenario applied for real leaves the rule counts the renderer reports', {
  skip,
}, () => {
  const states: L4State[] = [
    { nodeIp, services: [svc('db/pg:5432/TCP', 5432, [ep('10.244.1.5', 5432), ep('10.244.2.7', 5432)])] },
    {
      nodeIp,
      services: [
        svc('db/pg:5432/TCP', 5432, [ep('10.244.1.5', 5432), ep('10.244.2.7', 5432)]),
        svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]),
      ],
    },
    {
      nodeIp,
      services: [
        svc('db/pg:5432/TCP', 5432, [ep('10.244.1.5', 5432), ep('10.244.3.1', 5432)]),
        svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]),
      ],
    },
    { nodeIp, services: [svc('db/pg:5432/TCP', 5432, [ep('10.244.1.5', 5432), ep('10.244.3.1', 5432)])] },
  ];
  let previous: L4State | undefined;
  let active: ReadonlySet<string> | undefined;
  const script: string[] = [];
  const expected: number[] = [];
  for (const state of states) {
    const render = renderIptables(state, {
      ...(previous ? { changedServices: changedServices(previous, state) } : {}),
      ...(active ? { existingChains: active } : {}),
    });
    script.push(iptablesApply(render, 'iptables'), 'iptables-save -t nat', 'echo ===');
    expected.push(render.stats.natRulesTotal + 3);
    previous = state;
    active = render.activeChains;
  }
  const saves = inFreshNetns(script.join('\n')).split('===\n').slice(0, states.length);
  assert.deepEqual(
    saves.map((save) => countRules(save, 'nat')),
    expected,
  );
  assert.doesNotMatch(saves.at(-1) ?? '', /db\/redis/, 'the deleted service left nothing behind');
});

test('nft partial syncs that move, swap and drop map keys leave the table a fresh full sync builds', {
  skip,
}, () => {
  const redis = svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]);
  const mqtt = svc('iot/mqtt:1883/TCP', 1883, [ep('10.244.2.2', 1883)]);
  const states: L4State[] = [
    { nodeIp, services: [redis, mqtt] },
    {
      nodeIp,
      services: [
        { ...redis, listenPort: 1883 },
        { ...mqtt, listenPort: 6379 },
      ],
    },
    {
      nodeIp,
      services: [
        { ...redis, listenPort: 1883 },
        { ...mqtt, listenPort: 6379, endpoints: [] },
      ],
    },
    {
      nodeIp,
      services: [
        { ...redis, listenPort: 1883 },
        { ...mqtt, listenPort: 7000, endpoints: [] },
      ],
    },
    { nodeIp, services: [{ ...redis, listenPort: 1883 }] },
  ];
  const listTable = 'nft list table inet portico';
  let previous: L4State | undefined;
  let active: ReadonlySet<string> = new Set();
  const partialSteps: string[] = [];
  for (const state of states) {
    const render = renderNftables(
      state,
      previous ? { changedServices: changedServices(previous, state), previous, existingChains: active } : {},
    );
    if (previous) assert.doesNotMatch(render.script, /flush map/, 'a partial sync never refills a map');
    partialSteps.push(`nft -f ${file(render.script)}`);
    previous = state;
    active = render.activeChains;
  }
  const last = states.at(-1) ?? states[0]!;
  const built = inFreshNetns([...partialSteps, listTable].join('\n'));
  const fresh = inFreshNetns([`nft -f ${file(renderNftables(last).script)}`, listTable].join('\n'));
  assert.equal(built, fresh);
});

// Last in the file: tests run in order, so this sees the host after every namespace run above.
test('the host iptables and nft rulesets are byte-identical after the namespace runs', { skip }, () => {
  assert.equal(hostRuleset(), hostBefore);
});
