/**
 * `WatchStream` serves one watch request the way the real apiserver's watch cache does: optional
 * initial ADDED events (no resourceVersion, `0`, or `sendInitialEvents`), replay of history after
 * a given resourceVersion, live events filtered by namespace and selectors (with ADDED/DELETED
 * when an object starts or stops matching a label selector), periodic BOOKMARKs, a 410 ERROR event
 * for a compacted resourceVersion, and an end after `timeoutSeconds`.
 */
import type { ServerResponse } from 'node:http';
import { fromStorage } from './convert.js';
import { apiVersionOf, type ResourceInfo } from './resources.js';
import type { FieldSelector, LabelSelector } from './selectors.js';
import { fieldsOf } from './selectors.js';
import type { StatusObject } from './status.js';
import type { Obj, Store, StoreEvent } from './store.js';

/** `WatchRequest` is a parsed watch request. */
export interface WatchRequest {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly labels: LabelSelector;
  readonly fields: FieldSelector;
  readonly fieldNames: readonly string[];
  /** Start point: undefined means "current state as ADDED events, then changes". */
  readonly resourceVersion: number | undefined;
  readonly sendInitialEvents: boolean;
  readonly bookmarks: boolean;
  readonly bookmarkIntervalMs: number;
  readonly timeoutSeconds: number | undefined;
}

function labelsOf(obj: Obj): Record<string, string> {
  const meta = obj['metadata'];
  const labels = meta !== null && typeof meta === 'object' ? (meta as Obj)['labels'] : undefined;
  return labels !== null && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

function namespaceOf(obj: Obj): unknown {
  const meta = obj['metadata'];
  return meta !== null && typeof meta === 'object' ? (meta as Obj)['namespace'] : undefined;
}

/** `WatchStream` owns one streaming response until it ends. */
export class WatchStream {
  private ended = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly req: WatchRequest,
    private readonly res: ServerResponse,
    private readonly onEnd: (stream: WatchStream) => void,
  ) {}

  /** `start` writes the headers, the initial/replayed events, and subscribes to live ones. */
  start(): void {
    const { store, req, res } = this;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    res.on('close', () => this.end());
    if (req.resourceVersion !== undefined && req.resourceVersion < store.oldestResourceVersion) {
      this.send('ERROR', store.tooOld(req.resourceVersion).status);
      this.end();
      return;
    }
    if (req.resourceVersion === undefined || req.sendInitialEvents) {
      for (const { object } of store.list(req.info, req.namespace).items) {
        if (this.matches(object)) this.send('ADDED', object);
      }
      if (req.sendInitialEvents) {
        this.send('BOOKMARK', this.bookmark(true));
      }
    } else {
      for (const ev of store.eventsSince(req.info.storage, req.resourceVersion)) this.deliver(ev);
    }
    this.cleanups.push(store.subscribe((ev) => this.deliver(ev)));
    if (req.bookmarks) {
      const timer = setInterval(() => this.send('BOOKMARK', this.bookmark(false)), req.bookmarkIntervalMs);
      this.cleanups.push(() => clearInterval(timer));
    }
    if (req.timeoutSeconds !== undefined) {
      const timer = setTimeout(() => this.end(), req.timeoutSeconds * 1000);
      this.cleanups.push(() => clearTimeout(timer));
    }
  }

  /** `end` closes the stream cleanly (the client sees a normal end and re-watches). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (!this.res.writableEnded) this.res.end();
    this.onEnd(this);
  }

  /** `destroy` cuts the connection abruptly (a crashed or restarted server). */
  destroy(): void {
    this.res.socket?.destroy();
    this.end();
  }

  private bookmark(initialEventsEnd: boolean): Obj {
    return {
      kind: this.req.info.kind,
      apiVersion: apiVersionOf(this.req.info),
      metadata: {
        resourceVersion: String(this.store.resourceVersion),
        ...(initialEventsEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}),
      },
    };
  }

  private matches(obj: Obj): boolean {
    const { req } = this;
    if (req.info.namespaced && req.namespace !== undefined && namespaceOf(obj) !== req.namespace)
      return false;
    return req.labels(labelsOf(obj)) && req.fields(fieldsOf(obj, req.fieldNames));
  }

  private deliver(ev: StoreEvent): void {
    if (ev.storage !== this.req.info.storage || this.ended) return;
    const cur = fromStorage(this.req.info, structuredClone(ev.object));
    const prev = ev.prev === undefined ? undefined : fromStorage(this.req.info, structuredClone(ev.prev));
    const curMatches = this.matches(cur);
    const prevMatches = prev !== undefined && this.matches(prev);
    switch (ev.type) {
      case 'ADDED':
        if (curMatches) this.send('ADDED', cur);
        return;
      case 'DELETED':
        if (curMatches) this.send('DELETED', cur);
        return;
      case 'MODIFIED':
        if (curMatches && prevMatches) this.send('MODIFIED', cur);
        else if (curMatches) this.send('ADDED', cur);
        else if (prevMatches && prev) {
          // As the watch cache does: the old state, stamped with the resourceVersion of the change.
          const meta = prev['metadata'];
          if (meta !== null && typeof meta === 'object') (meta as Obj)['resourceVersion'] = String(ev.rv);
          this.send('DELETED', prev);
        }
        return;
    }
  }

  private send(type: string, object: Obj | StatusObject): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.write(`${JSON.stringify({ type, object })}\n`);
  }
}
