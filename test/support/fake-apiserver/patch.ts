/**
 * `patch` applies the PATCH bodies the fake server accepts: RFC 7386 JSON merge patch (also used
 * for strategic merge patch, which for the kinds served here differs only in how lists with merge
 * keys combine — see the server README note in index.ts) and RFC 6902 JSON patch, which is
 * client-node 1.x's default `Content-Type` for patch calls.
 */

/** `PatchError` is a patch that cannot be applied; the server answers 422 or 400 with its message. */
export class PatchError extends Error {
  constructor(
    message: string,
    readonly code: 400 | 422,
  ) {
    super(message);
  }
}

/** `isRecord` narrows to a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `mergePatch` applies an RFC 7386 merge patch: objects merge, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else {
      out[key] = mergePatch(out[key], value);
    }
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer: ${pointer}`, 400);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: readonly string[]): unknown {
  let cur = doc;
  for (const key of path) {
    if (Array.isArray(cur)) {
      const i = Number(key);
      if (!/^\d+$/.test(key) || i >= cur.length) return undefined;
      cur = cur[i];
    } else if (isRecord(cur)) {
      if (!Object.hasOwn(cur, key)) return undefined;
      cur = cur[key];
    } else {
      return undefined;
    }
  }
  return cur;
}

function parentOf(doc: unknown, path: readonly string[], op: string): { parent: unknown; key: string } {
  if (path.length === 0) throw new PatchError(`${op} at the document root is not supported`, 422);
  const parent = getAt(doc, path.slice(0, -1));
  if (parent === undefined) {
    throw new PatchError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`, 422);
  }
  return { parent, key: path[path.length - 1] ?? '' };
}

function addAt(doc: unknown, path: readonly string[], value: unknown, op: string): void {
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!/^(\d+|-)$/.test(key) || i > parent.length) {
      throw new PatchError(`${op} operation does not apply: index out of bounds: ${key}`, 422);
    }
    parent.splice(i, 0, value);
  } else if (isRecord(parent)) {
    parent[key] = value;
  } else {
    throw new PatchError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`, 422);
  }
}

function removeAt(doc: unknown, path: readonly string[], op: string): unknown {
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!/^\d+$/.test(key) || i >= parent.length) {
      throw new PatchError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`, 422);
    }
    return parent.splice(i, 1)[0];
  }
  if (isRecord(parent) && Object.hasOwn(parent, key)) {
    const old = parent[key];
    delete parent[key];
    return old;
  }
  throw new PatchError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`, 422);
}

/** `jsonPatch` applies an RFC 6902 operation list to a copy of `target`. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations', 400);
  const doc = structuredClone(target);
  for (const raw of ops) {
    if (!isRecord(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') {
      throw new PatchError('json patch operation must have "op" and "path"', 400);
    }
    const op = raw['op'];
    const path = decodePointer(raw['path']);
    switch (op) {
      case 'add':
        addAt(doc, path, structuredClone(raw['value']), op);
        break;
      case 'remove':
        removeAt(doc, path, op);
        break;
      case 'replace':
        removeAt(doc, path, op);
        addAt(doc, path, structuredClone(raw['value']), op);
        break;
      case 'move':
      case 'copy': {
        if (typeof raw['from'] !== 'string') throw new PatchError(`${op} operation needs "from"`, 400);
        const from = decodePointer(raw['from']);
        const value = op === 'move' ? removeAt(doc, from, op) : structuredClone(getAt(doc, from));
        if (value === undefined) throw new PatchError(`${op} operation does not apply: missing "from"`, 422);
        addAt(doc, path, value, op);
        break;
      }
      case 'test': {
        const actual = getAt(doc, path);
        if (JSON.stringify(actual) !== JSON.stringify(raw['value'])) {
          throw new PatchError(`testing value /${path.join('/')} failed: test failed`, 422);
        }
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${op}`, 400);
    }
  }
  return doc;
}
