import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { FLAGS } from '../../../src/cli/flags.js';
import { PORTICO_BIN, runPortico } from '../../support/portico-process.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('portico command line', () => {
  test('--help documents every flag and exits 0', async () => {
    const r = await runPortico(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: portico \[--manifests DIR \| --kubeconfig PATH\]/);
    for (const name of Object.keys(FLAGS)) assert.match(r.stdout, new RegExp(`--${name}\\b`));
  });

  test('--version prints the package version', async () => {
    const r = await runPortico(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  test('without --manifests it runs in cluster mode, and exits 2 when no cluster is configured', async () => {
    // A clean environment: no $KUBECONFIG, not in a pod.
    const env = { ...process.env };
    delete env['KUBECONFIG'];
    delete env['KUBERNETES_SERVICE_HOST'];
    const r = spawnSync(process.execPath, [PORTICO_BIN, '--http-port', '0'], {
      env,
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 2);
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { msg?: string; err?: string };
    assert.equal(line.msg, 'cluster mode: no usable kubeconfig');
    assert.match(line.err ?? '', /pass --kubeconfig, set KUBECONFIG, run in a pod, or use --manifests DIR/);
  });

  test('an unreadable --kubeconfig exits 2', async () => {
    const r = await runPortico(['--kubeconfig', '/nonexistent/portico-kubeconfig', '--http-port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /no usable kubeconfig/);
    assert.match(r.stdout, /nonexistent\/portico-kubeconfig/);
  });

  const usageErrors = [
    { name: 'an unknown flag', args: ['--manifests', '.', '--bogus'], match: /bogus/ },
    {
      name: 'a bad duration',
      args: ['--manifests', '.', '--proxy-read-timeout', '60'],
      match: /--proxy-read-timeout "60"/,
    },
    { name: 'a bad port', args: ['--manifests', '.', '--http-port', '99999'], match: /--http-port "99999"/ },
    {
      name: 'a bad size',
      args: ['--manifests', '.', '--max-header-size', 'big'],
      match: /--max-header-size "big"/,
    },
  ] as const;
  for (const c of usageErrors) {
    test(`${c.name} exits 2 with a clear message`, async () => {
      const r = await runPortico([...c.args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, c.match);
      assert.match(r.stderr, /Run 'portico --help' for usage\./);
    });
  }

  test('a missing manifests folder exits 2', async () => {
    const r = await runPortico([
      '--manifests',
      '/nonexistent/portico-test',
      '--http-port',
      '0',
      '--admin-port',
      '0',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /--manifests cannot be read/);
  });
});
