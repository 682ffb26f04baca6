/**
 * `--manifests`'s help names every kind file mode reads (the object store's KNOWN_KINDS), so a kind
 * added to the store cannot be left out of the documentation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAGS } from '../../../src/cli/flags.js';
import { KNOWN_KINDS } from '../../../src/model/objects.js';

for (const kind of KNOWN_KINDS) {
  test(`the --manifests help names ${kind}, a kind file mode reads`, () => {
    assert.match(FLAGS.manifests.doc, new RegExp(`\\b${kind}\\b`));
  });
}
