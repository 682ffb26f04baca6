/**
 * `startFakeApiServer` starts a stand-in Kubernetes API server on 127.0.0.1 that speaks the real
 * REST protocol (JSON only), so the unmodified `@kubernetes/client-node` — and Portico's cluster
 * code on top of it — can be tested without a cluster. It is faithful where controllers can tell
 * the difference (resourceVersions, watch semantics, 404/409/410/422 Status objects, status
 * subresource, validation Portico's writes can hit), and says where it simplifies:
 *
 * - strategic merge patch is applied as JSON merge patch (lists are replaced, not merged by key);
 *   server-side apply (`application/apply-patch+yaml`) answers 415;
 * - no authorization (any request with `Authorization: Bearer fake-token` is allowed; others 401),
 *   no admission webhooks, no `deletecollection`, no protobuf/CBOR, no field managers;
 * - unknown fields are kept, not pruned; validation covers the rules listed in validation.ts;
 * - Pods are deleted at once (no kubelet grace period); a deleted Namespace is emptied at once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { isRecord, jsonPatch, mergePatch, PatchError } from './patch.js';
import { apiVersionOf, findKind, findResource, RESOURCES, type ResourceInfo } from './resources.js';
import {
  type FieldSelector,
  fieldsOf,
  type LabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  supportedFields,
} from './selectors.js';
import { ApiError, badRequest, failure, gone, notFound, qualified, type StatusObject } from './status.js';
import { type Obj, Store } from './store.js';
import { WatchStream } from './watch.js';

export { ApiError } from './status.js';

/** `Verb` is the RBAC verb of a request, as the real authorizer computes it. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/**
 * `RecordedRequest` is one served HTTP request. Non-resource requests (discovery, `/version`,
 * health) have `resource: ''` and verb `get`.
 */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly verb: Verb;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly status: number;
}

/** `FakeApiServerOptions` configure {@link startFakeApiServer}. */
export interface FakeApiServerOptions {
  /** Serve HTTPS with a self-signed certificate (the kubeconfig skips verification). */
  readonly tls?: boolean;
  /** Interval of BOOKMARK events for watches with `allowWatchBookmarks=true`; default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
  /**
   * Largest page a LIST with `limit` gets, whatever limit it asked for (servers may return fewer
   * items than `limit`), so tests can force pagination. Lists without `limit` are never paged.
   */
  readonly pageSizeLimit?: number;
}

/** A typed object as the direct store API takes it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

/** `FakeApiServer` is a running fake API server. See {@link startFakeApiServer}. */
export interface FakeApiServer {
  /** `http(s)://127.0.0.1:PORT`. */
  readonly url: string;
  /** A kubeconfig YAML for this server (token `fake-token`; insecure-skip-tls-verify for TLS). */
  kubeconfig(): string;
  /** Writes {@link FakeApiServer.kubeconfig} to `dir/kubeconfig` and returns the path. */
  writeKubeconfig(dir: string): Promise<string>;
  /**
   * Direct store writes bypass HTTP but go through the same registry (defaults, validation,
   * resourceVersion, watch events). They throw {@link ApiError} where the API would fail. Unlike
   * an API write to the main resource, they also keep a `.status` the object carries (the store
   * API stands in for every writer in the cluster, kubelet included).
   */
  create<T extends KubeObject>(obj: T): T;
  /** Replaces an object; a set `metadata.resourceVersion` is a precondition (409 if stale). */
  update<T extends KubeObject>(obj: T): T;
  /** Creates or replaces. */
  apply<T extends KubeObject>(obj: T): T;
  /** Deletes; returns whether the object existed. */
  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): unknown | undefined;
  list(apiVersion: string, kind: string, namespace?: string): unknown[];
  /** Every HTTP request served, in order. */
  readonly requests: RecordedRequest[];
  /** Ends every open watch stream cleanly (clients must re-watch). */
  dropWatches(): void;
  /** Stops listening, destroys every connection, listens again on the same port; store kept. */
  restart(): Promise<void>;
  /** Forgets history: older resourceVersions answer 410 on WATCH and exact LIST. */
  compact(): void;
  /** The current resourceVersion (handy in assertions). */
  readonly resourceVersion: string;
  /** Watch streams currently open (to check that clients clean up). */
  readonly openWatches: number;
  close(): Promise<void>;
}

/** The bearer token the kubeconfig carries and the server requires. */
export const FAKE_TOKEN = 'fake-token';

const maxBodyBytes = 3 * 1024 * 1024;

/** Resources that answer DELETE with the deleted object instead of a Success Status. */
const returnsDeletedObject = new Set(['/services', '/pods', '/namespaces']);

let certPromise: Promise<{ key: string; cert: string }> | undefined;

/** One self-signed certificate per test process: openssl is slow enough to matter per server. */
function selfSignedCert(): Promise<{ key: string; cert: string }> {
  certPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fake-apiserver-'));
    try {
      await promisify(execFile)(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '2',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ],
        { timeout: 20_000 },
      );
      return {
        key: await readFile(join(dir, 'key.pem'), 'utf8'),
        cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certPromise;
}

interface Route {
  readonly group: string;
  readonly version: string;
  readonly info: ResourceInfo | undefined;
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

/** Splits `/api/v1/...` or `/apis/<group>/<version>/...` into its parts; undefined for other paths. */
function parseRoute(segments: readonly string[]): Route | undefined {
  let group: string;
  let version: string;
  let rest: readonly string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1] ?? '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  // `/namespaces/<ns>/<resource>...` is namespaced; `/namespaces/<name>[/status]` is the Namespace.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && rest[2] === 'status')) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  const info = findResource(group, version, resource);
  if (rest.length > 3) return undefined;
  return { group, version, info, resource, namespace, name: rest[1], subresource: rest[2] };
}

function queryOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

function isTrue(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(
          new ApiError(failure(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728')),
        );
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function parseRv(text: string): number {
  if (!/^\d+$/.test(text)) throw badRequest(`invalid resource version: ${JSON.stringify(text)}`);
  return Number(text);
}

interface ContinueToken {
  readonly rv: number;
  readonly start: string;
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isRecord(parsed) && parsed['v'] === 'meta.k8s.io/v1' && typeof parsed['rv'] === 'number') {
      const start = parsed['start'];
      if (typeof start === 'string') return { rv: parsed['rv'], start };
    }
  } catch {
    // fall through to the error below
  }
  throw badRequest(
    'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
  );
}

function discoveryResource(info: ResourceInfo): Obj[] {
  const main: Obj = {
    name: info.resource,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    ...(info.shortNames.length > 0 ? { shortNames: [...info.shortNames] } : {}),
  };
  if (!info.statusSubresource) return [main];
  return [
    main,
    {
      name: `${info.resource}/status`,
      singularName: '',
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: ['get', 'patch', 'update'],
    },
  ];
}

class FakeServer implements FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly store = new Store();
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchStream>();
  private port = 0;
  private readonly bookmarkIntervalMs: number;
  private readonly pageSizeLimit: number | undefined;

  constructor(
    options: FakeApiServerOptions,
    private readonly tlsMaterial: { key: string; cert: string } | undefined,
  ) {
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.pageSizeLimit = options.pageSizeLimit;
    this.server = this.makeServer();
  }

  get url(): string {
    return `${this.tlsMaterial ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  private makeServer(): Server {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          this.sendStatus(req, res, undefined, failure(500, 'InternalError', String(err)));
        } else {
          res.destroy();
        }
      });
    };
    const server = this.tlsMaterial
      ? createHttpsServer({ key: this.tlsMaterial.key, cert: this.tlsMaterial.cert }, handler)
      : createHttpServer(handler);
    server.on(this.tlsMaterial ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // Connections that never finish a TLS handshake are still sockets we must be able to destroy.
    if (this.tlsMaterial) {
      server.on('connection', (socket: Socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      });
    }
    server.keepAliveTimeout = 60_000;
    return server;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake apiserver: no TCP address');
    this.port = address.port;
  }

  private async stopListening(): Promise<void> {
    for (const watch of [...this.watches]) watch.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  kubeconfig(): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake',
          // client-node 1.x refuses a plain http:// server unless verification is skipped too.
          cluster: { server: this.url, 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'fake', user: { token: FAKE_TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
      'current-context': 'fake',
      preferences: {},
    });
  }

  async writeKubeconfig(dir: string): Promise<string> {
    const path = join(dir, 'kubeconfig');
    await writeFile(path, this.kubeconfig(), { mode: 0o600 });
    return path;
  }

  private kindOf(apiVersion: string, kind: string): ResourceInfo {
    const info = findKind(apiVersion, kind);
    if (!info) throw new Error(`fake apiserver does not serve ${apiVersion} ${kind}`);
    return info;
  }

  create<T extends KubeObject>(obj: T): T {
    const info = this.kindOf(obj.apiVersion, obj.kind);
    return this.store.create(info, this.nsFor(info, obj), obj, { includeStatus: true }) as unknown as T;
  }

  update<T extends KubeObject>(obj: T): T {
    const info = this.kindOf(obj.apiVersion, obj.kind);
    return this.store.update(info, this.nsFor(info, obj), obj.metadata.name, obj, {
      includeStatus: true,
    }) as unknown as T;
  }

  apply<T extends KubeObject>(obj: T): T {
    const info = this.kindOf(obj.apiVersion, obj.kind);
    const exists = this.store.get(info, this.nsFor(info, obj), obj.metadata.name) !== undefined;
    return exists ? this.update(obj) : this.create(obj);
  }

  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean {
    const info = this.kindOf(apiVersion, kind);
    try {
      this.store.delete(info, info.namespaced ? (namespace ?? 'default') : undefined, name);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return false;
      throw err;
    }
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): unknown | undefined {
    const info = this.kindOf(apiVersion, kind);
    return this.store.get(info, info.namespaced ? (namespace ?? 'default') : undefined, name);
  }

  list(apiVersion: string, kind: string, namespace?: string): unknown[] {
    const info = this.kindOf(apiVersion, kind);
    return this.store.list(info, namespace).items.map((i) => i.object);
  }

  private nsFor(info: ResourceInfo, obj: KubeObject): string | undefined {
    return info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
  }

  dropWatches(): void {
    for (const watch of [...this.watches]) watch.end();
  }

  async restart(): Promise<void> {
    await this.stopListening();
    this.server = this.makeServer();
    await this.listen(this.port);
  }

  compact(): void {
    this.store.compact();
  }

  async close(): Promise<void> {
    await this.stopListening();
    this.store.close();
  }

  private record(req: IncomingMessage, route: Route | undefined, verb: Verb, status: number): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: queryOf(url),
      verb,
      group: route?.group ?? '',
      version: route?.version ?? '',
      resource: route?.resource ?? '',
      ...(route?.subresource === undefined ? {} : { subresource: route.subresource }),
      ...(route?.namespace === undefined ? {} : { namespace: route.namespace }),
      ...(route?.name === undefined ? {} : { name: route.name }),
      status,
    });
  }

  private verbOf(req: IncomingMessage, route: Route | undefined, query: Record<string, string>): Verb {
    switch (req.method) {
      case 'POST':
        return 'create';
      case 'PUT':
        return 'update';
      case 'PATCH':
        return 'patch';
      case 'DELETE':
        return 'delete';
      default:
        if (route === undefined) return 'get';
        if (isTrue(query['watch'])) return 'watch';
        return route.name === undefined ? 'list' : 'get';
    }
  }

  private sendJson(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route | undefined,
    status: number,
    body: unknown,
  ): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.record(req, route, this.verbOf(req, route, queryOf(url)), status);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendStatus(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route | undefined,
    status: StatusObject,
  ): void {
    this.sendJson(req, res, route, status.code, status);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const route = parseRoute(segments);
    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
      this.sendStatus(req, res, route, failure(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    try {
      if (route === undefined) {
        this.handleNonResource(req, res, segments);
        return;
      }
      await this.handleResource(req, res, route, queryOf(url));
    } catch (err) {
      if (err instanceof ApiError) {
        this.sendStatus(req, res, route, err.status);
        return;
      }
      if (err instanceof SelectorError) {
        this.sendStatus(req, res, route, badRequest(err.message).status);
        return;
      }
      if (err instanceof PatchError) {
        this.sendStatus(
          req,
          res,
          route,
          failure(err.code, err.code === 422 ? 'Invalid' : 'BadRequest', err.message),
        );
        return;
      }
      throw err;
    }
  }

  private handleNonResource(req: IncomingMessage, res: ServerResponse, segments: readonly string[]): void {
    const path = `/${segments.join('/')}`;
    if (req.method !== 'GET') {
      this.sendStatus(
        req,
        res,
        undefined,
        failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
      );
      return;
    }
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];
    const groupDoc = (group: string): Obj => {
      const gv = { groupVersion: `${group}/v1`, version: 'v1' };
      return { name: group, versions: [gv], preferredVersion: gv };
    };
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      this.record(req, undefined, 'get', 200);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path === '/version') {
      this.sendJson(req, res, undefined, 200, {
        major: '1',
        minor: '31',
        gitVersion: 'v1.31.0-fake',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2024-08-13T00:00:00Z',
        goVersion: 'go1.22.5',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
      return;
    }
    if (path === '/api') {
      this.sendJson(req, res, undefined, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
      });
      return;
    }
    if (path === '/apis') {
      this.sendJson(req, res, undefined, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groups.map(groupDoc),
      });
      return;
    }
    if (segments[0] === 'apis' && segments.length === 2 && groups.includes(segments[1] ?? '')) {
      this.sendJson(req, res, undefined, 200, {
        kind: 'APIGroup',
        apiVersion: 'v1',
        ...groupDoc(segments[1] ?? ''),
      });
      return;
    }
    const [api, a, b] = segments;
    const gv =
      api === 'api' && segments.length === 2
        ? { group: '', version: a ?? '' }
        : api === 'apis' && segments.length === 3
          ? { group: a ?? '', version: b ?? '' }
          : undefined;
    const served = gv ? RESOURCES.filter((r) => r.group === gv.group && r.version === gv.version) : [];
    if (gv && served.length > 0) {
      this.sendJson(req, res, undefined, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: apiVersionOf(gv),
        resources: served.flatMap(discoveryResource),
      });
      return;
    }
    this.sendStatus(
      req,
      res,
      undefined,
      failure(404, 'NotFound', 'the server could not find the requested resource', {}),
    );
  }

  private async handleResource(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    query: Record<string, string>,
  ): Promise<void> {
    const { info } = route;
    if (
      info === undefined ||
      (route.namespace !== undefined && !info.namespaced) ||
      (route.name !== undefined && route.namespace === undefined && info.namespaced) ||
      (route.subresource !== undefined && !(route.subresource === 'status' && info.statusSubresource))
    ) {
      this.sendStatus(
        req,
        res,
        route,
        failure(404, 'NotFound', 'the server could not find the requested resource', {}),
      );
      return;
    }
    const method = req.method ?? 'GET';
    const dryRun = query['dryRun'] === 'All';
    if (query['dryRun'] !== undefined && query['dryRun'] !== 'All') {
      throw badRequest(`Invalid dryRun value: ${query['dryRun']}`);
    }
    const sub = route.subresource === 'status' ? { subresource: 'status' as const } : {};
    if (route.name === undefined) {
      if (method === 'GET') {
        if (isTrue(query['watch'])) this.watch(req, res, route, info, query);
        else this.sendJson(req, res, route, 200, this.listResponse(info, route.namespace, query));
        return;
      }
      if (method === 'POST') {
        const body = parseJson(await readBody(req));
        this.sendJson(req, res, route, 201, this.store.create(info, route.namespace, body, { dryRun }));
        return;
      }
      this.sendStatus(
        req,
        res,
        route,
        failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
      );
      return;
    }
    const name = route.name;
    switch (method) {
      case 'GET': {
        if (isTrue(query['watch'])) {
          // A watch on one object's path is a collection watch with a name field selector.
          const fieldSelector = [query['fieldSelector'], `metadata.name=${name}`].filter(Boolean).join(',');
          this.watch(req, res, route, info, { ...query, fieldSelector });
          return;
        }
        const obj = this.store.get(info, route.namespace, name);
        if (!obj) throw notFound(info, name);
        this.sendJson(req, res, route, 200, obj);
        return;
      }
      case 'PUT': {
        const body = parseJson(await readBody(req));
        const existed = this.store.get(info, route.namespace, name) !== undefined;
        const out = this.store.update(info, route.namespace, name, body, { dryRun, ...sub });
        this.sendJson(req, res, route, existed ? 200 : 201, out);
        return;
      }
      case 'PATCH': {
        const text = await readBody(req);
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
        const current = this.store.get(info, route.namespace, name);
        if (
          contentType !== 'application/json-patch+json' &&
          contentType !== 'application/merge-patch+json' &&
          contentType !== 'application/strategic-merge-patch+json'
        ) {
          throw new ApiError(
            failure(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
            ),
          );
        }
        if (!current) throw notFound(info, name);
        const patchBody = parseJson(text);
        const patched =
          contentType === 'application/json-patch+json'
            ? jsonPatch(current, patchBody)
            : mergePatch(current, patchBody);
        this.sendJson(
          req,
          res,
          route,
          200,
          this.store.update(info, route.namespace, name, patched, { dryRun, ...sub }),
        );
        return;
      }
      case 'DELETE': {
        if (route.subresource !== undefined) {
          throw new ApiError(
            failure(
              405,
              'MethodNotAllowed',
              'the server does not allow this method on the requested resource',
            ),
          );
        }
        const text = await readBody(req);
        const options = text.trim() === '' ? {} : parseJson(text);
        const pre = isRecord(options) && isRecord(options['preconditions']) ? options['preconditions'] : {};
        const optDryRun =
          isRecord(options) && Array.isArray(options['dryRun']) && options['dryRun'].includes('All');
        const result = this.store.delete(
          info,
          route.namespace,
          name,
          {
            ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}),
            ...(typeof pre['resourceVersion'] === 'string'
              ? { resourceVersion: pre['resourceVersion'] }
              : {}),
          },
          { dryRun: dryRun || optDryRun },
        );
        if (!result.gone || returnsDeletedObject.has(info.storage)) {
          this.sendJson(req, res, route, 200, result.object);
          return;
        }
        const meta = isRecord(result.object['metadata']) ? result.object['metadata'] : {};
        this.sendJson(req, res, route, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: {
            name,
            ...(info.group === '' ? {} : { group: info.group }),
            kind: info.resource,
            uid: meta['uid'],
          },
        });
        return;
      }
      default:
        throw new ApiError(
          failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
    }
  }

  private selectors(
    info: ResourceInfo,
    query: Record<string, string>,
  ): { labels: LabelSelector; fields: FieldSelector; fieldNames: readonly string[] } {
    const fieldNames = supportedFields(info.group, info.resource, info.namespaced);
    return {
      labels: parseLabelSelector(query['labelSelector']),
      fields: parseFieldSelector(query['fieldSelector'], fieldNames),
      fieldNames,
    };
  }

  private listResponse(
    info: ResourceInfo,
    namespace: string | undefined,
    query: Record<string, string>,
  ): Obj {
    const { labels, fields, fieldNames } = this.selectors(info, query);
    const rvText = query['resourceVersion'] ?? '';
    const match = query['resourceVersionMatch'];
    const continueText = query['continue'];
    let atRv: number | undefined;
    let start = '';
    if (match !== undefined && match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      throw badRequest(
        `resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`,
      );
    }
    if (continueText !== undefined && continueText !== '') {
      if (rvText !== '' && rvText !== '0') {
        throw badRequest('specifying resource version is not allowed when using continue');
      }
      const token = decodeContinue(continueText);
      if (token.rv < this.store.oldestResourceVersion) {
        throw gone(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      atRv = token.rv;
      start = token.start;
    } else if (match !== undefined && match !== '') {
      if (rvText === '')
        throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
      const rv = parseRv(rvText);
      if (match === 'Exact') {
        if (rv === 0) throw badRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
        this.checkNotTooLarge(rv);
        atRv = rv;
      } else {
        this.checkNotTooLarge(rv);
      }
    } else if (rvText !== '' && rvText !== '0') {
      // A bare resourceVersion means "not older than".
      this.checkNotTooLarge(parseRv(rvText));
    }
    const result = this.store.list(info, namespace, atRv);
    const filtered = result.items.filter(
      ({ object }) => labels(labelsOfObj(object)) && fields(fieldsOf(object, fieldNames)),
    );
    const fromStart = filtered.filter(({ key }) => key >= start);
    const limitText = query['limit'];
    let limit = limitText !== undefined && /^\d+$/.test(limitText) ? Number(limitText) : 0;
    if (limit > 0 && this.pageSizeLimit !== undefined) limit = Math.min(limit, this.pageSizeLimit);
    const page = limit > 0 ? fromStart.slice(0, limit) : fromStart;
    const more = limit > 0 && fromStart.length > page.length;
    const last = page[page.length - 1];
    const metadata: Obj = { resourceVersion: String(result.rv) };
    if (more && last) {
      metadata['continue'] = encodeContinue(result.rv, `${last.key}\u0000`);
      if (query['labelSelector'] === undefined && query['fieldSelector'] === undefined) {
        metadata['remainingItemCount'] = fromStart.length - page.length;
      }
    }
    return {
      kind: `${info.kind}List`,
      apiVersion: apiVersionOf(info),
      metadata,
      // As the real server, list items carry no kind/apiVersion of their own.
      items: page.map(({ object }) => {
        const { kind: _k, apiVersion: _a, ...rest } = object;
        return rest;
      }),
    };
  }

  private checkNotTooLarge(rv: number): void {
    if (rv > this.store.resourceVersion) {
      throw new ApiError(
        failure(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.store.resourceVersion}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version', field: '' }],
          retryAfterSeconds: 1,
        }),
      );
    }
  }

  private watch(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    info: ResourceInfo,
    query: Record<string, string>,
  ): void {
    const { labels, fields, fieldNames } = this.selectors(info, query);
    const rvText = query['resourceVersion'] ?? '';
    const sendInitialEvents = isTrue(query['sendInitialEvents']);
    const bookmarks = isTrue(query['allowWatchBookmarks']);
    if (sendInitialEvents && (!bookmarks || query['resourceVersionMatch'] !== 'NotOlderThan')) {
      throw new ApiError(
        failure(
          422,
          'Invalid',
          'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan',
        ),
      );
    }
    const timeoutText = query['timeoutSeconds'];
    const timeoutSeconds =
      timeoutText !== undefined && /^\d+$/.test(timeoutText) ? Number(timeoutText) : undefined;
    const rv = rvText === '' || rvText === '0' ? undefined : parseRv(rvText);
    this.record(req, route, 'watch', 200);
    const stream = new WatchStream(
      this.store,
      {
        info,
        namespace: route.namespace,
        labels,
        fields,
        fieldNames,
        resourceVersion: rv,
        sendInitialEvents,
        bookmarks,
        bookmarkIntervalMs: this.bookmarkIntervalMs,
        timeoutSeconds: timeoutSeconds === 0 ? undefined : timeoutSeconds,
      },
      res,
      (s) => this.watches.delete(s),
    );
    this.watches.add(stream);
    stream.start();
  }
}

function labelsOfObj(obj: Obj): Record<string, string> {
  const meta = obj['metadata'];
  const labels = isRecord(meta) ? meta['labels'] : undefined;
  return isRecord(labels) ? (labels as Record<string, string>) : {};
}

/**
 * `startFakeApiServer` starts a fake API server on `127.0.0.1` and an ephemeral port. Close it
 * with {@link FakeApiServer.close}.
 */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const material = options.tls ? await selfSignedCert() : undefined;
  const server = new FakeServer(options, material);
  await server.listen(0);
  return server;
}

/** `qualifiedResource` is `resource.group` for messages and assertions. */
export function qualifiedResource(group: string, resource: string): string {
  return qualified({ group, resource });
}
