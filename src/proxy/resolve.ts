/**
 * `resolve` is the request-side half shared by plain HTTP and WebSocket upgrades: normalise host
 * and path, look the request up in ONE snapshot, check the backend, pick its endpoint set and
 * build the upstream headers. It answers with either an upstream plan or a built-in response.
 */
import type { IncomingMessage } from 'node:http';
import { normalizeHost, normalizeRequestPath } from '../compile/normalize.js';
import type { RouteMatch, RouteSnapshot } from '../compile/types.js';
import type { PolicyEngine } from '../policy/chain.js';
import { type Balancing, needsSelection, selectBackend } from './backend-selection.js';
import type { ClientCertChecker } from './client-certs.js';
import { fallbackBackend } from './custom-errors.js';
import {
  backendProblemBody,
  badRequestBody,
  noEndpointsBody,
  notFoundBody,
  type ProxyErrorCode,
  policyDeniedBody,
  statusLine,
  upstreamTlsConfigBody,
} from './errors.js';
import { buildUpstreamHeaders, generateRequestId, peerAddress } from './forwarded-headers.js';
import { http2RequestView } from './http2.js';
import type { LiveSettings } from './live-settings.js';
import {
  forwardedHttps,
  httpsLocation,
  isAcmeChallenge,
  type RedirectStatus,
  wantsHttpsRedirect,
} from './redirect.js';
import { appRootLocation, rewriteUpstream, setForwardedPrefix } from './rewrite.js';
import { configuredRedirect } from './route-redirect.js';
import { setUpstreamHost } from './upstream-policy.js';
import type { BackendUpstreams, UpstreamRegistry } from './upstreams.js';

/** `ResolveContext` is what resolution needs from the data plane. */
export interface ResolveContext {
  readonly snapshot: () => RouteSnapshot;
  readonly upstreams: UpstreamRegistry;
  /** The global settings in force; read once per request, the result travels with it. */
  readonly settings: () => LiveSettings;
  readonly proto: 'http' | 'https';
  /** Checks hosts with `auth-tls-*`; without it such hosts fail closed (503). */
  readonly clientCerts?: ClientCertChecker;
  /** Runs the routes' policies (`policy-gate.ts`); without it no policy step runs. */
  readonly policies?: PolicyEngine;
}

/** `Resolution` is the outcome of `resolveRequest`. */
export type Resolution =
  | {
      readonly ok: true;
      readonly requestId: string;
      readonly match: RouteMatch;
      /** The normalised host the request was routed by. */
      readonly host: string;
      readonly backend: BackendUpstreams;
      readonly headers: string[];
      readonly peer: string;
      readonly path: string;
      /** `rewrite-target`: the upstream request target instead of `req.url`; absent: unchanged. */
      readonly upstreamTarget?: string | undefined;
      /** The settings this request runs with, from start to end. */
      readonly settings: LiveSettings;
      /** The Strict-Transport-Security pair every response carries (HTTPS listener, TLS host). */
      readonly hsts?: readonly string[] | undefined;
      readonly location?: undefined;
      /** Set for routes with a canary, affinity or load-balance annotation (`backend-selection.ts`). */
      readonly balancing?: Balancing | undefined;
    }
  | {
      readonly ok: false;
      readonly requestId: string;
      readonly status: 400 | 404 | 421 | 503;
      readonly code: ProxyErrorCode;
      readonly body: string;
      readonly match?: RouteMatch;
      readonly host?: string;
      readonly hsts?: readonly string[] | undefined;
      readonly location?: undefined;
    }
  | {
      /**
       * A redirect the route itself answers: HTTP → HTTPS (plain-HTTP listener only), a configured
       * one (`permanent-redirect`, `temporal-redirect`, `from-to-www-redirect`) or `app-root` (302);
       * the request body is never read.
       */
      readonly ok: false;
      readonly requestId: string;
      readonly status: RedirectStatus;
      readonly location: string;
      readonly match: RouteMatch;
      readonly host: string;
      /** Only a configured redirect on the HTTPS listener for a TLS host carries HSTS. */
      readonly hsts?: readonly string[] | undefined;
    };

const CLIENT_AUTH_UNAVAILABLE = {
  ok: false,
  status: 503,
  code: 'PORTICO_ERR_CLIENT_AUTH_CONFIG',
  body: `${statusLine(503)} — client certificates cannot be checked on this listener\n`,
} as const;

/** `requestIdOf` returns the client's X-Request-ID, or a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && incoming !== '' ? incoming : generateRequestId();
}

/** Host of an absolute-form target (`http://host:port/p`), which RFC 9112 §3.2.2 says wins over Host. */
function absoluteFormHost(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f /* / */) return undefined;
  const scheme = target.indexOf('://');
  if (scheme === -1) return undefined;
  const start = scheme + 3;
  let end = target.length;
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  const authority = target.slice(start, end);
  const at = authority.lastIndexOf('@');
  return at === -1 ? authority : authority.slice(at + 1);
}

/** `routeLabel` names the route that answered, for logs. */
export function routeLabel(match: RouteMatch | undefined): string {
  if (match === undefined) return 'none';
  if (match.route !== undefined)
    return `${match.ingress ?? '?'} ${match.route.host || '*'}${match.route.path}`;
  return match.ingress === undefined ? match.kind : `${match.ingress} ${match.kind}`;
}

/** `resolveRequest` routes one request; see the module comment. */
export function resolveRequest(req: IncomingMessage, ctx: ResolveContext, upgrade?: string): Resolution {
  const requestId = requestIdOf(req);
  const snapshot = ctx.snapshot();
  const target = req.url ?? '/';
  const normalized = normalizeRequestPath(target);
  if (!normalized.ok) {
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody(normalized.reason),
    };
  }
  // HTTP/2: routed by :authority, and pseudo-headers never go upstream (http2.ts).
  const h2 = req.httpVersionMajor === 2 ? http2RequestView(req.rawHeaders) : undefined;
  if (h2?.conflictingHost === true) {
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody('the Host header differs from :authority'),
    };
  }
  const host = normalizeHost(absoluteFormHost(target) ?? (h2 === undefined ? req.headers.host : h2.host));
  const match = snapshot.match(host, normalized.path);
  const settings = ctx.settings();
  // Configured redirects come first (nginx's `return`); on HTTPS a host's client-certificate check
  // still comes before them, as nginx checks the certificate before any phase runs.
  const configured =
    match.hostRedirect === undefined && match.policy.redirect === undefined
      ? undefined
      : configuredRedirect(req, match, target, ctx.proto, settings);
  if (configured !== undefined && hostHeaderCount(req.rawHeaders) > 1) {
    // As nginx: 400 before any phase, never a redirect chosen by one of two Hosts.
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody('more than one Host header'),
      match,
      host,
    };
  }
  // nginx adds Strict-Transport-Security to `return` answers too.
  const configuredHsts = ctx.proto === 'https' && match.tlsHost ? settings.hsts : undefined;
  if (configured !== undefined && (ctx.proto === 'http' || match.clientAuth === undefined)) {
    const { status, location } = configured;
    return { ok: false, requestId, status, location, match, host, hsts: configuredHsts };
  }
  if (ctx.proto === 'http' && wantsHttpsRedirect(match, settings.https)) {
    const location = redirectLocation(req, host, target, normalized.path, settings, match);
    if (location !== undefined) {
      return { ok: false, requestId, status: settings.https.redirectCode, location, match, host };
    }
  }
  const hsts = ctx.proto === 'https' && match.tlsHost ? settings.hsts : undefined;
  // Client-certificate hosts are checked before anything else answers, 404s included.
  let clientAuthHeaders: readonly string[] | undefined;
  if (match.clientAuth !== undefined) {
    const outcome =
      ctx.clientCerts?.check(req.socket, ctx.proto === 'https', host, match.clientAuth) ??
      CLIENT_AUTH_UNAVAILABLE;
    if (!outcome.ok) {
      return {
        ok: false,
        requestId,
        status: outcome.status,
        code: outcome.code,
        body: outcome.body,
        match,
        host,
        hsts,
      };
    }
    clientAuthHeaders = outcome.headers;
  }
  if (configured !== undefined) {
    const { status, location } = configured;
    return { ok: false, requestId, status, location, match, host, hsts: configuredHsts };
  }
  if (match.rewrite !== undefined) {
    const rawHost = h2 === undefined ? req.headers.host : h2.host;
    const location = appRootLocation(match, normalized.path, ctx.proto, rawHost, host);
    if (location !== undefined) return { ok: false, requestId, status: 302, location, match, host, hsts };
  }
  const backendRef = match.backend;
  if (match.kind === 'not-found' || backendRef === undefined) {
    return {
      ok: false,
      requestId,
      status: 404,
      code: 'PORTICO_ERR_NO_ROUTE',
      body: notFoundBody(host, normalized.path),
      match,
      host,
      hsts,
    };
  }
  if (backendRef.problem !== undefined || backendRef.target === undefined) {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_BACKEND_PROBLEM',
      body: backendProblemBody(backendRef.key, backendRef.problem ?? 'the backend has no resolved target'),
      match,
      host,
      hsts,
    };
  }
  const policy = match.policy;
  if (policy.deny !== undefined) {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_POLICY_DENIED',
      body: policyDeniedBody(policy.deny),
      match,
      host,
    };
  }
  // Plain HTTP/1.1 (the default) is one Map lookup; other protocols go through their transport.
  const plain = policy.backendProtocol === 'HTTP';
  let backend = plain ? ctx.upstreams.backend(backendRef.key) : ctx.upstreams.backendVia(match, backendRef);
  // `default-backend` answers while the route's own backend has no ready endpoints (issue 8).
  if (backend === undefined || (typeof backend !== 'string' && backend.upstreams.length === 0)) {
    backend = fallbackBackend(match, ctx.upstreams) ?? backend;
  }
  if (typeof backend === 'string') {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_UPSTREAM_TLS_CONFIG',
      body: upstreamTlsConfigBody(backendRef.key, backend),
      match,
      host,
    };
  }
  if (backend === undefined || backend.upstreams.length === 0) {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_NO_ENDPOINTS',
      body: noEndpointsBody(backendRef.key),
      match,
      host,
      hsts,
    };
  }
  // Canary, affinity and load balancing; plain routes skip this (three field reads).
  let chosen = backend;
  let balancing: Balancing | undefined;
  if (needsSelection(match)) {
    const selection = selectBackend(req, match, backend, {
      upstreams: ctx.upstreams,
      proto: ctx.proto,
      host,
      path: normalized.path,
    });
    chosen = selection.backend;
    balancing = selection.balancing;
  }
  const socket = req.socket;
  const peer = peerAddress(socket);
  const built = buildUpstreamHeaders(h2 === undefined ? req.rawHeaders : h2.rawHeaders, {
    peer,
    trusted: settings.trust(peer),
    proto: ctx.proto,
    localPort: socket.localPort ?? 0,
    requestId,
    ...(upgrade === undefined ? {} : { upgrade }),
    teTrailers: !plain && policy.backendProtocol !== 'HTTPS',
  });
  if (built.duplicateHost) {
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody('more than one Host header'),
      match,
      host,
      hsts,
    };
  }
  if (clientAuthHeaders !== undefined) built.headers.push(...clientAuthHeaders);
  const rewritten = match.rewrite === undefined ? undefined : rewriteUpstream(match, normalized.path, target);
  if (rewritten?.forwardedPrefix !== undefined) setForwardedPrefix(built.headers, rewritten.forwardedPrefix);
  // `upstream-vhost`: after the duplicate check, so X-Forwarded-Host keeps the client's host.
  if (policy.upstream?.vhost !== undefined) setUpstreamHost(built.headers, policy.upstream.vhost);
  return {
    ok: true,
    requestId,
    match,
    host,
    backend: chosen,
    headers: built.headers,
    peer,
    path: normalized.path,
    upstreamTarget: rewritten?.target,
    settings,
    hsts,
    balancing,
  };
}

function hostHeaderCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

/**
 * `redirectLocation` is where a plain-HTTP request the policy redirects goes, or undefined when it
 * stays on HTTP after all: an ACME HTTP-01 challenge, a trusted proxy in front saying the client
 * already used HTTPS (TLS terminated there; redirecting would loop), or no usable Host.
 */
function redirectLocation(
  req: IncomingMessage,
  host: string,
  target: string,
  path: string,
  settings: LiveSettings,
  match: RouteMatch,
): string | undefined {
  if (isAcmeChallenge(path)) return undefined;
  // Two Host headers: the request answers 400 below, as nginx does, never a redirect to either.
  if (hostHeaderCount(req.rawHeaders) > 1) return undefined;
  if (forwardedHttps(req) && settings.trust(peerAddress(req.socket))) return undefined;
  return httpsLocation(
    host,
    target,
    settings.https.redirectPort,
    match.policy.preserveTrailingSlash === false,
  );
}
