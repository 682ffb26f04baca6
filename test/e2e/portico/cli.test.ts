import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { FLAGS } from '../../../src/cli/flags.js';
import { runPortico } from '../../support/portico-process.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('portico command line', () => {
  test('--help documents every flag and exits 0', async () => {
    const r = await runPortico(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: portico --manifests DIR/);
    for (const name of Object.keys(FLAGS)) assert.match(r.stdout, new RegExp(`--${name}\\b`));
  });

  test('--version prints the package version', async () => {
    const r = await runPortico(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  test('without --manifests (cluster mode) it exits 2 with the exact message', async () => {
    const r = await runPortico(['--http-port', '0']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'cluster mode not implemented yet; pass --manifests DIR\n');
    assert.equal(r.stdout, '');
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
