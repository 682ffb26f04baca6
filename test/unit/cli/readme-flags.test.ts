/**
 * The README documents every CLI flag; this keeps it from drifting as flags are added.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FLAGS, helpText } from '../../../src/cli/flags.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README lists at least one flag (the scan works)', () => {
  assert.ok(Object.keys(FLAGS).length > 5);
});

for (const name of Object.keys(FLAGS)) {
  test(`README documents --${name}`, () => {
    assert.ok(readme.includes(`--${name}`), `README.md does not mention --${name}`);
  });
}

test("README's command-line block is exactly `portico --help`", () => {
  const start = readme.indexOf('```text\nUsage: portico');
  assert.ok(start !== -1, 'README has the --help block');
  const end = readme.indexOf('```', start + 7);
  assert.equal(readme.slice(start + '```text\n'.length, end), helpText());
});
