/**
 * `yaml` parses manifest files and keeps where every node was written, so diagnostics can say
 * `file:line:column` (DESIGN §5). JSON files go through the same parser: JSON is valid YAML 1.2.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
} from 'yaml';
import type { SourceLocation } from '../model/diagnostics.js';
import type { Locator } from '../store/object-store.js';

/** `ParsedDocument` is one non-empty YAML document of a file. */
export interface ParsedDocument {
  /** 0-based index of the document within its file (empty documents count too). */
  readonly index: number;
  /** The document as plain JavaScript data. */
  readonly value: unknown;
  /** Where the document's content starts. */
  readonly location: SourceLocation;
  /** Maps a field path of the document's root value to where it was written. */
  readonly locate: Locator;
  /** `locateAt` builds a locator rooted at a sub-node, e.g. `items[2]` of a `kind: List`. */
  readonly locateAt: (prefix: string) => Locator;
}

/** `ParseFailure` says where a file stops being YAML. */
export interface ParseFailure {
  readonly location: SourceLocation;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly documents: readonly ParsedDocument[] }
  | { readonly ok: false; readonly error: ParseFailure };

/** Path segments of a field such as `spec.rules[0].http.paths[1].path` or `metadata.annotations["a.b/c"]`. */
export type FieldSegment = string | number;

/**
 * `parseFieldPath` splits a field path into keys and indexes. Bracketed quoted keys let annotation
 * names, which contain dots, be addressed. Returns undefined for a malformed path.
 */
export function parseFieldPath(field: string): FieldSegment[] | undefined {
  const out: FieldSegment[] = [];
  let i = 0;
  const n = field.length;
  while (i < n) {
    const c = field[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const q = field[i + 1];
      if (q === '"' || q === "'") {
        const end = field.indexOf(`${q}]`, i + 2);
        if (end < 0) return undefined;
        out.push(field.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = field.indexOf(']', i);
        if (end < 0) return undefined;
        const idx = Number(field.slice(i + 1, end));
        if (!Number.isInteger(idx) || idx < 0) return undefined;
        out.push(idx);
        i = end + 1;
      }
      continue;
    }
    let j = i;
    while (j < n && field[j] !== '.' && field[j] !== '[') j++;
    out.push(field.slice(i, j));
    i = j;
  }
  return out;
}

/**
 * `parseManifest` parses every document of a file. Any syntax error fails the whole file: a file
 * that is half-written (an editor saving, a bad merge) must not remove the objects it defined.
 */
export function parseManifest(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const at = (offset: number, documentIndex: number): SourceLocation => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col, documentIndex };
  };
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, strict: true, uniqueKeys: true });
  } catch (err) {
    return { ok: false, error: { location: at(0, 0), message: errorMessage(err) } };
  }
  if ('empty' in docs) {
    // An EmptyStream: nothing but comments or whitespace, or no documents at all.
    const first = docs.errors[0];
    if (first)
      return { ok: false, error: { location: at(first.pos[0], 0), message: firstLine(first.message) } };
    return { ok: true, documents: [] };
  }
  const documents: ParsedDocument[] = [];
  for (const [index, doc] of docs.entries()) {
    const error = doc.errors[0];
    if (error) {
      return { ok: false, error: { location: at(error.pos[0], index), message: firstLine(error.message) } };
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) continue;
    let value: unknown;
    try {
      // The alias ceiling stops "billion laughs" documents from exhausting memory.
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      return {
        ok: false,
        error: { location: at(contents.range?.[0] ?? 0, index), message: errorMessage(err) },
      };
    }
    const locateAt =
      (prefix: string): Locator =>
      (field) => {
        const full = prefix === '' ? field : field === '' ? prefix : `${prefix}.${field}`;
        const segments = parseFieldPath(full);
        if (segments === undefined) return undefined;
        const offset = findOffset(doc, contents, segments);
        return offset === undefined ? undefined : at(offset, index);
      };
    documents.push({
      index,
      value,
      location: at(contents.range?.[0] ?? 0, index),
      locate: locateAt(''),
      locateAt,
    });
  }
  return { ok: true, documents };
}

/**
 * `findOffset` walks `segments` from `root` and returns the offset of the deepest node it reaches:
 * a field that is missing points at its nearest written parent, which is where it should be added.
 * A scalar value points at the value itself; a collection value at its key.
 */
function findOffset(doc: Document, root: Node, segments: readonly FieldSegment[]): number | undefined {
  let node: unknown = root;
  let offset = root.range?.[0];
  for (const seg of segments) {
    node = resolveAlias(doc, node);
    if (typeof seg === 'number') {
      if (!isSeq(node)) break;
      const item = resolveAlias(doc, node.items[seg]);
      if (item === undefined || !hasRange(item)) break;
      node = item;
      offset = item.range[0];
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
    if (pair === undefined) break;
    const key = pair.key;
    const value = resolveAlias(doc, pair.value);
    const keyOffset = hasRange(key) ? key.range[0] : offset;
    if (value === null || value === undefined || !hasRange(value)) {
      offset = keyOffset;
      node = value;
      continue;
    }
    offset = isScalar(value) ? value.range[0] : keyOffset;
    node = value;
  }
  return offset;
}

function resolveAlias(doc: Document, node: unknown): unknown {
  if (isAlias(node)) return node.resolve(doc) ?? node;
  return node;
}

function hasRange(node: unknown): node is { range: [number, number, number] } {
  return (
    typeof node === 'object' &&
    node !== null &&
    'range' in node &&
    Array.isArray((node as { range: unknown }).range)
  );
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

function errorMessage(err: unknown): string {
  return firstLine(err instanceof Error ? err.message : String(err));
}
