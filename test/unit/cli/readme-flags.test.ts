/**
 * The README documents every CLI flag; this keeps it from drifting as flags are added.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FLAGS } from '../../../src/cli/flags.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README lists at least one flag (the scan works)', () => {
  assert.ok(Object.keys(FLAGS).length > 5);
});

for (const name of Object.keys(FLAGS)) {
  test(`README documents --${name}`, () => {
    assert.ok(readme.includes(`--${name}`), `README.md does not mention --${name}`);
  });
}
