/**
 * `upstream-policy` is the request-time half of the `upstream` annotation family: a route's
 * timeouts, body limit and retry rules laid over the global settings (annotation > ConfigMap >
 * flag). Computed once per (global settings, route policy) pair and cached, so a request pays one
 * WeakMap lookup, and nothing at all on routes without the annotations.
 */
import type { IncomingMessage } from 'node:http';
import type { UpstreamOptions } from '../config/types.js';
import { resolveUpstreamSettings } from '../model/settings/types.js';
import type { NextUpstreamCondition, UpstreamPolicy } from '../model/types.js';
import type { UpstreamErrorRow } from './upstream-errors.js';

/** `RetryRules` is `proxy-next-upstream`, decoded. */
export interface RetryRules {
  /** Connection refused, reset, DNS and the like. */
  readonly error: boolean;
  /** Connect, send and read timeouts (the 504 rows). */
  readonly timeout: boolean;
  /** Malformed upstream responses. */
  readonly invalidHeader: boolean;
  /** Retry methods that are not idempotent even after the request may have reached the upstream. */
  readonly nonIdempotent: boolean;
  /** Upstream statuses answered by the next endpoint instead (`http_NNN`); absent: none. */
  readonly statuses?: ReadonlySet<number>;
}

/**
 * `DEFAULT_RETRY_RULES` is Portico's rule without the annotation: ingress-nginx's `error timeout`,
 * plus malformed responses (which Portico always retried), made safe by the body and method checks.
 */
export const DEFAULT_RETRY_RULES: RetryRules = Object.freeze({
  error: true,
  timeout: true,
  invalidHeader: true,
  nonIdempotent: false,
});

/** `RouteUpstream` is what one exchange runs with. */
export interface RouteUpstream {
  /** Timeouts and tries (`maxTries` = Number.MAX_SAFE_INTEGER for "no limit"). */
  readonly options: UpstreamOptions;
  /** Largest request body in bytes; 0: no limit. */
  readonly maxBodyBytes: number;
  readonly retry: RetryRules;
  /** `proxy-next-upstream-timeout` in ms; 0: no limit. */
  readonly retryBudgetMs: number;
}

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** `retryRules` decodes `proxy-next-upstream` words. */
export function retryRules(words: readonly NextUpstreamCondition[] | undefined): RetryRules {
  if (words === undefined) return DEFAULT_RETRY_RULES;
  const statuses = new Set<number>();
  for (const w of words) if (w.startsWith('http_')) statuses.add(Number(w.slice(5)));
  return Object.freeze({
    error: words.includes('error'),
    timeout: words.includes('timeout'),
    invalidHeader: words.includes('invalid_header'),
    nonIdempotent: words.includes('non_idempotent'),
    ...(statuses.size > 0 ? { statuses } : {}),
  });
}

/** `retryAllows` says whether a failed attempt's kind is one the rules send to the next endpoint. */
export function retryAllows(rules: RetryRules, row: UpstreamErrorRow): boolean {
  if (row.status === 504) return rules.timeout;
  if (row.code === 'PORTICO_ERR_UPSTREAM_PROTOCOL' || row.code === 'PORTICO_ERR_UPSTREAM') {
    return rules.invalidHeader;
  }
  return rules.error;
}

/** `buildRouteUpstream` lays a route's policy over the global settings (pure; see the module comment). */
export function buildRouteUpstream(
  global: UpstreamOptions,
  policy: UpstreamPolicy | undefined,
): RouteUpstream {
  const tries = policy?.nextUpstreamTries;
  // The annotation's words replace the ConfigMap's (or the flag's) as a whole, as in ingress-nginx.
  const words = policy?.nextUpstream ?? global.nextUpstream;
  const off = words?.includes('off') === true;
  const options = resolveUpstreamSettings(global, {
    ...(policy?.connectTimeoutMs !== undefined ? { connectTimeoutMs: policy.connectTimeoutMs } : {}),
    ...(policy?.readTimeoutMs !== undefined ? { readTimeoutMs: policy.readTimeoutMs } : {}),
    ...(policy?.sendTimeoutMs !== undefined ? { sendTimeoutMs: policy.sendTimeoutMs } : {}),
    ...(off ? { maxTries: 1 } : tries !== undefined ? { maxTries: tries === 0 ? NO_LIMIT : tries } : {}),
  });
  return Object.freeze({
    options,
    maxBodyBytes: policy?.maxBodyBytes ?? global.maxBodyBytes ?? 0,
    retry: retryRules(words),
    retryBudgetMs: policy?.nextUpstreamTimeoutMs ?? global.nextUpstreamTimeoutMs ?? 0,
  });
}

// Global settings object → (route policy | the global default) → the merged view. Both keys are
// immutable objects replaced on change, so entries never go stale and are collected with them.
const cache = new WeakMap<UpstreamOptions, WeakMap<UpstreamPolicy, RouteUpstream>>();
const globalOnly = new WeakMap<UpstreamOptions, RouteUpstream>();

/** `routeUpstream` is `buildRouteUpstream`, cached per (global, policy) pair. */
export function routeUpstream(global: UpstreamOptions, policy: UpstreamPolicy | undefined): RouteUpstream {
  if (policy === undefined) {
    let hit = globalOnly.get(global);
    if (hit === undefined) {
      hit = buildRouteUpstream(global, undefined);
      globalOnly.set(global, hit);
    }
    return hit;
  }
  let perPolicy = cache.get(global);
  if (perPolicy === undefined) {
    perPolicy = new WeakMap();
    cache.set(global, perPolicy);
  }
  let hit = perPolicy.get(policy);
  if (hit === undefined) {
    hit = buildRouteUpstream(global, policy);
    perPolicy.set(policy, hit);
  }
  return hit;
}

/**
 * `declaredBodyLength` is the request's Content-Length as a number, undefined when absent or not a
 * plain decimal (Node's parser already refused conflicting or malformed values on HTTP/1.1).
 */
export function declaredBodyLength(req: IncomingMessage): number | undefined {
  const cl = req.headers['content-length'];
  if (cl === undefined || !/^\d+$/.test(cl)) return undefined;
  return Number(cl);
}

/**
 * `setUpstreamHost` replaces the Host header of a flat upstream header list (`upstream-vhost`),
 * adding one when missing. X-Forwarded-Host, built from the client's Host, is left alone.
 */
export function setUpstreamHost(headers: string[], host: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      headers[i + 1] = host;
      return;
    }
  }
  headers.push('host', host);
}
