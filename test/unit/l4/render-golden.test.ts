/**
 * Whole payloads against golden files (kube-proxy's habit), one case per state in
 * test/support/l4-fixtures.ts, for every mode: iptables-restore (with the ensured jumps as comments),
 * nft script, ipvsadm -R and its companion iptables rules. For the partial-sync case the
 * previous state's full render stands for the live kernel, and the golden holds the partial payload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIptablesForAudit, renderIptables } from '../../../src/l4/render/iptables.js';
import { diffIpvs, formatIpvsTable, renderIpvs } from '../../../src/l4/render/ipvs.js';
import { renderNftables } from '../../../src/l4/render/nftables.js';
import { assertGolden, canonicalIptables, canonicalIpvs, canonicalNft } from '../../support/golden.js';
import { goldenCases, nftOnlyGoldenCases, redirectGoldenCases } from '../../support/l4-fixtures.js';

const dir = 'test/golden/l4';

for (const c of goldenCases) {
  const changedServices = c.changed ? new Set(c.changed) : undefined;

  test(`${c.name}: the iptables-restore payload matches its golden file`, () => {
    const previous = c.previous ? renderIptables(c.previous) : undefined;
    const render = renderIptables(c.state, {
      ...(changedServices ? { changedServices } : {}),
      ...(previous ? { existingChains: previous.activeChains } : {}),
    });
    assert.deepEqual(render.rejected, []);
    assertGolden(`${dir}/${c.name}.iptables`, formatIptablesForAudit(render), canonicalIptables);
  });

  test(`${c.name}: the nft script matches its golden file`, () => {
    const previous = c.previous ? renderNftables(c.previous) : undefined;
    const render = renderNftables(c.state, {
      ...(c.previous ? { previous: c.previous } : {}),
      ...(changedServices ? { changedServices } : {}),
      ...(previous ? { existingChains: previous.activeChains } : {}),
    });
    assert.deepEqual(render.rejected, []);
    assertGolden(`${dir}/${c.name}.nft`, render.script, canonicalNft);
  });

  if (c.state.nodeIp !== undefined) {
    const nodeIp = c.state.nodeIp;
    test(`${c.name}: the ipvsadm -R payload (for a re-sync, the diff against the live table) matches its golden file`, () => {
      const render = renderIpvs(c.state);
      assert.deepEqual(render.rejected, []);
      const ipvsText = c.previous
        ? `${diffIpvs(renderIpvs(c.previous).virtualServers, render.virtualServers, { nodeIp }).join('\n')}\n`
        : formatIpvsTable(render.virtualServers);
      assertGolden(`${dir}/${c.name}.ipvs`, ipvsText, canonicalIpvs);
    });

    test(`${c.name}: the IPVS companion iptables rules match their golden file`, () => {
      assertGolden(`${dir}/${c.name}.ipvs.iptables`, renderIpvs(c.state).companionPayload, canonicalIptables);
    });
  }
}

// Port redirects (the other modes test theirs beside their renderers) and what only an inet table holds.
for (const c of [...redirectGoldenCases, ...nftOnlyGoldenCases]) {
  test(`${c.name}: the nft script matches its golden file`, () => {
    const render = renderNftables(c.state);
    assert.deepEqual(render.rejected, []);
    assertGolden(`${dir}/${c.name}.nft`, render.script, canonicalNft);
  });
}
