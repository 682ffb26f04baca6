/**
 * `results` rewrites one `## ` section of bench/RESULTS.md and keeps every other section, so each
 * benchmark owns its section and none clobbers another's.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** `replaceSection` replaces the section that starts with `heading` (or appends it) in `doc`. */
export function replaceSection(doc: string, heading: string, section: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  if (start === -1) return `${doc.trimEnd()}\n\n${section.trimEnd()}\n`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end === -1) end = lines.length;
  const before = lines.slice(0, start).join('\n');
  const after = lines.slice(end).join('\n');
  return `${before}${before === '' ? '' : '\n'}${section.trimEnd()}\n${after === '' ? '' : `\n${after}`}`;
}

/** `writeSection` updates (or creates) the results file with one section. */
export function writeSection(path: string, heading: string, section: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n';
  writeFileSync(path, replaceSection(doc, heading, section));
}
