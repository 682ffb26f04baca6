/**
 * `source` is file mode: a folder of manifests feeding the same `ObjectStore` the cluster informers
 * will feed. It keeps `file:line:column` for every field and never lets a bad file take objects
 * away: an unparsable file keeps the objects it defined last time it parsed (last good).
 *
 * NOTE: file mode accepts loopback EndpointSlice addresses (127.0.0.0/8) because the point of it is
 * running Portico on a laptop against local processes. It is meant for local use only.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { Debouncer } from '../controller/debounce.js';
import type { ConfigSource, SourceChange } from '../controller/source.js';
import type { Logger } from '../log/logger.js';
import { type Diagnostic, formatLocation, objectLabel, type SourceLocation } from '../model/diagnostics.js';
import type { IngressClass, KubeKind, KubeObject } from '../model/objects.js';
import { KNOWN_KINDS } from '../model/objects.js';
import { type Locator, ObjectStore } from '../store/object-store.js';
import type { Clock } from '../util/clock.js';
import { objectKey } from '../util/keys.js';
import { convertDocument } from './convert.js';
import { parseManifest } from './yaml.js';

export interface FileSourceOptions {
  /** The manifests folder, as the user wrote it (diagnostics show paths under it). */
  readonly dir: string;
  /** IngressClass assumed when the folder defines none. */
  readonly ingressClass: string;
  readonly controllerClass: string;
  readonly logger: Logger;
  /** Called after every load that changed the store or the diagnostics. */
  readonly onChange?: (change: SourceChange) => void;
  /** Quiet time after the last file event before rescanning. */
  readonly rescanHoldoffMs?: number;
  readonly clock?: Clock;
}

/** `LoadedObject` is one object a file defines, with where it came from. */
interface LoadedObject {
  readonly object: KubeObject;
  readonly locate: Locator;
  readonly location: SourceLocation;
}

interface FileState {
  /** Content last read, to skip re-parsing unchanged files. */
  readonly text: string;
  /** Objects from the last version of the file that parsed. */
  readonly objects: readonly LoadedObject[];
  readonly diagnostics: readonly Diagnostic[];
  /** Kinds skipped because the store does not keep them, e.g. `apps/v1 Deployment`. */
  readonly skipped: readonly string[];
}

/** `LoadResult` summarises one scan of the folder. */
export interface LoadResult {
  readonly change: SourceChange;
  readonly files: number;
  readonly objects: number;
}

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];
/** Bounds the folder walk, so a symlink loop cannot recurse forever. */
const MAX_DEPTH = 16;
const MAX_FILES = 10_000;

/** `isManifestFile` says whether a path is a manifest file by its extension. */
export function isManifestFile(path: string): boolean {
  const lower = path.toLowerCase();
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * `FileSource` loads a manifests folder into an `ObjectStore` and, once `start`ed, watches it and
 * applies changes live.
 */
export class FileSource implements ConfigSource {
  readonly store = new ObjectStore();
  readonly #options: FileSourceOptions;
  readonly #log: Logger;
  readonly #files = new Map<string, FileState>();
  #diagnostics: readonly Diagnostic[] = [];
  #synced = false;
  #watcher: FSWatcher | undefined;
  #rescan: Debouncer | undefined;
  #loading: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: FileSourceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'file-source' });
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  diagnostics(): readonly Diagnostic[] {
    return this.#diagnostics;
  }

  /**
   * `start` begins watching, then loads the folder once. The watcher is ready before the first scan
   * so an edit made right after it is never missed.
   */
  async start(): Promise<LoadResult> {
    const holdoff = this.#options.rescanHoldoffMs ?? 50;
    this.#rescan = new Debouncer(() => this.#scheduleLoad(), {
      holdoffMs: holdoff,
      maxDelayMs: Math.max(holdoff, 300),
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
    });
    const watcher = watch(this.#options.dir, {
      ignoreInitial: true,
      persistent: true,
      depth: MAX_DEPTH,
      // Hidden entries are editor swap files or Kubernetes' `..data` mount plumbing.
      ignored: (path, stats) =>
        relative(this.#options.dir, path)
          .split(sep)
          .some((part) => part.startsWith('.') && part !== '.' && part !== '..') ||
        (stats?.isFile() === true && !isManifestFile(path)),
    });
    this.#watcher = watcher;
    watcher.on('all', () => this.#rescan?.trigger());
    watcher.on('error', (err) => this.#log.warn({ err }, 'watching the manifests folder failed'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return this.load();
  }

  /** `stop` closes the watcher; the store keeps its content. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#rescan?.stop();
    await this.#watcher?.close();
    await this.#loading.catch(() => undefined);
  }

  /**
   * `load` scans the folder and brings the store in line with it. Scans never overlap: a scan asked
   * for while one runs is queued once (latest wins).
   */
  load(): Promise<LoadResult> {
    const run = this.#loading.then(() => this.#load());
    this.#loading = run.catch(() => undefined);
    return run;
  }

  #scheduleLoad(): void {
    if (this.#stopped) return;
    this.load().catch((err: unknown) => this.#log.error({ err }, 'loading manifests failed'));
  }

  async #load(): Promise<LoadResult> {
    const dir = this.#options.dir;
    const paths = await listManifestFiles(dir, this.#log);
    const seen = new Set<string>();
    for (const rel of paths) {
      seen.add(rel);
      const display = join(dir, rel);
      let text: string;
      try {
        text = await readFile(join(dir, rel), 'utf8');
      } catch (err) {
        // Deleted between listing and reading; the watcher will tell us again.
        this.#log.debug({ err, file: display }, 'manifest vanished while reading');
        seen.delete(rel);
        continue;
      }
      const previous = this.#files.get(rel);
      if (previous && previous.text === text) continue;
      this.#files.set(rel, this.#parseFile(display, text, previous));
    }
    for (const rel of [...this.#files.keys()]) if (!seen.has(rel)) this.#files.delete(rel);
    const result = this.#apply();
    this.#synced = true;
    if (!this.#stopped && (result.change.kinds.size > 0 || result.change.diagnosticsChanged)) {
      this.#options.onChange?.(result.change);
    }
    return result;
  }

  #parseFile(display: string, text: string, previous: FileState | undefined): FileState {
    const parsed = parseManifest(text, display);
    if (!parsed.ok) {
      const kept = previous?.objects ?? [];
      const { location, message } = parsed.error;
      return {
        text,
        objects: kept,
        skipped: previous?.skipped ?? [],
        diagnostics: [
          {
            severity: 'error',
            code: 'PORTICO_ERR_MANIFEST_PARSE',
            object: objectLabel('File', undefined, display),
            field: '',
            message:
              `${message} (document ${location.documentIndex}); ` +
              (kept.length > 0
                ? `keeping the ${kept.length} object(s) it defined before`
                : 'no objects loaded from it'),
            source: formatLocation(location),
          },
        ],
      };
    }
    const objects: LoadedObject[] = [];
    const diagnostics: Diagnostic[] = [];
    const skipped: string[] = [];
    for (const doc of parsed.documents) {
      const result = convertDocument(doc.value);
      if (result.kind === 'list') {
        for (const [i, item] of result.items.entries()) {
          const prefix = `items[${i}]`;
          const locate = doc.locateAt(prefix);
          this.#collect(convertDocument(item), locate, locate('') ?? doc.location, previous, {
            objects,
            diagnostics,
            skipped,
          });
        }
        continue;
      }
      this.#collect(result, doc.locate, doc.location, previous, { objects, diagnostics, skipped });
    }
    return { text, objects, diagnostics, skipped };
  }

  #collect(
    result: ReturnType<typeof convertDocument>,
    locate: Locator,
    location: SourceLocation,
    previous: FileState | undefined,
    out: { objects: LoadedObject[]; diagnostics: Diagnostic[]; skipped: string[] },
  ): void {
    const { objects, diagnostics, skipped } = out;
    switch (result.kind) {
      case 'object':
        objects.push({ object: result.object, locate, location });
        return;
      case 'skipped':
        skipped.push(`${result.what} at ${formatLocation(location)}`);
        this.#log.debug({ kind: result.what, source: formatLocation(location) }, 'skipping unsupported kind');
        return;
      case 'list':
        diagnostics.push({
          severity: 'error',
          code: 'PORTICO_ERR_OBJECT_INVALID',
          object: objectLabel('File', undefined, location.file),
          field: '',
          message: 'nested kind: List is not supported',
          source: formatLocation(location),
        });
        return;
      case 'invalid': {
        const where = (result.field === '' ? undefined : locate(result.field)) ?? location;
        const id = result.identity;
        // Same rule as for unparsable files: a broken edit keeps the object's previous version.
        const kept = id
          ? previous?.objects.find(
              (o) =>
                o.object.kind === id.kind &&
                o.object.metadata.name === id.name &&
                o.object.metadata.namespace === id.namespace,
            )
          : undefined;
        if (kept) objects.push(kept);
        diagnostics.push({
          severity: 'error',
          code: 'PORTICO_ERR_OBJECT_INVALID',
          object: id
            ? objectLabel(id.kind, id.namespace, id.name)
            : objectLabel('File', undefined, location.file),
          field: result.field,
          message:
            `document ${location.documentIndex} (line ${location.line}) is not a valid object: ${result.message}` +
            (kept ? '; keeping its previous version' : ''),
          source: formatLocation(where),
        });
        return;
      }
    }
  }

  /** `#apply` writes the union of all files into the store and removes what no file defines. */
  #apply(): LoadResult {
    const desired = new Map<KubeKind, Map<string, LoadedObject>>();
    for (const kind of KNOWN_KINDS) desired.set(kind, new Map());
    const diagnostics: Diagnostic[] = [];
    let objectCount = 0;
    // Sorted so that which duplicate wins does not depend on readdir order.
    const files = [...this.#files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, state] of files) {
      diagnostics.push(...state.diagnostics);
      for (const loaded of state.objects) {
        const { kind, metadata } = loaded.object;
        const bucket = desired.get(kind);
        if (!bucket) continue;
        const key = objectKey(metadata.namespace, metadata.name);
        const first = bucket.get(key);
        if (first) {
          diagnostics.push({
            severity: 'error',
            code: 'PORTICO_ERR_OBJECT_INVALID',
            object: objectLabel(kind, metadata.namespace, metadata.name),
            field: '',
            message: `defined again; ignoring this copy and keeping the one at ${formatLocation(first.location)}`,
            source: formatLocation(loaded.location),
          });
          continue;
        }
        bucket.set(key, loaded);
        objectCount++;
      }
    }
    const classes = desired.get('IngressClass');
    if (classes && classes.size === 0) {
      // Without an IngressClass nothing would be ours; assume the one the flags name.
      const assumed: IngressClass = {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'IngressClass',
        metadata: { name: this.#options.ingressClass },
        spec: { controller: this.#options.controllerClass },
      };
      const location: SourceLocation = {
        file: '(assumed by --ingress-class)',
        line: 0,
        column: 0,
        documentIndex: 0,
      };
      classes.set(assumed.metadata.name, { object: assumed, locate: () => undefined, location });
    }
    const changed = new Set<KubeKind>();
    for (const [kind, bucket] of desired) {
      for (const loaded of bucket.values()) {
        if (this.store.upsert(loaded.object, loaded.locate)) changed.add(kind);
      }
      for (const key of this.store.keys(kind)) {
        if (bucket.has(key)) continue;
        // Keys are "namespace/name" or a bare name for cluster-scoped kinds; names never hold '/'.
        const slash = key.indexOf('/');
        const namespace = slash < 0 ? undefined : key.slice(0, slash);
        if (this.store.remove(kind, namespace, key.slice(slash + 1))) {
          changed.add(kind);
        }
      }
    }
    const before = this.#diagnostics;
    this.#diagnostics = diagnostics;
    return {
      change: { kinds: changed, diagnosticsChanged: !sameDiagnostics(before, diagnostics) },
      files: this.#files.size,
      objects: objectCount,
    };
  }

  /** `skipped` lists documents of kinds the store does not keep, for the load log line. */
  skipped(): readonly string[] {
    return [...this.#files.values()].flatMap((f) => f.skipped);
  }
}

function sameDiagnostics(a: readonly Diagnostic[], b: readonly Diagnostic[]): boolean {
  return a.length === b.length && a.every((d, i) => JSON.stringify(d) === JSON.stringify(b[i]));
}

/** `listManifestFiles` returns manifest paths relative to `dir`, sorted, skipping hidden entries. */
export async function listManifestFiles(dir: string, log?: Logger): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || out.length >= MAX_FILES) return;
    let entries: string[];
    try {
      entries = await readdir(join(dir, rel));
    } catch (err) {
      if (depth === 0) throw err;
      log?.debug({ err, dir: join(dir, rel) }, 'cannot list folder');
      return;
    }
    entries.sort();
    for (const name of entries) {
      if (name.startsWith('.')) continue;
      const childRel = rel === '' ? name : join(rel, name);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        // stat, not lstat: symlinked files and folders (ConfigMap mounts) count as what they point at.
        info = await stat(join(dir, childRel));
      } catch {
        continue;
      }
      if (info.isDirectory()) await walk(childRel, depth + 1);
      else if (info.isFile() && isManifestFile(name) && out.length < MAX_FILES) out.push(childRel);
    }
  };
  await walk('', 0);
  return out;
}
