/**
 * `canary` decides, per request, whether a route with a canary sends it to the canary backend
 * (ingress-nginx's `route_to_alternative_balancer`, balancer.lua). In order:
 * 1. a request whose affinity cookie belongs to the main backend stays there;
 * 2. one whose affinity cookie belongs to the canary goes to the canary;
 * 3. the `canary-by-header` header: with `canary-by-header-value`, that exact value → canary;
 *    else with `canary-by-header-pattern`, a match → canary; else `always` → canary and
 *    `never` → main; any other value falls through;
 * 4. the `canary-by-cookie` cookie: `always` → canary, `never` → main, else falls through;
 * 5. the weight: canary with probability `weight / weightTotal`.
 * Patterns are compiled once per rule (the rule is per snapshot), never per request.
 */
import type { IncomingMessage } from 'node:http';
import type { CanaryRule } from '../model/types.js';
import { compileHeaderPattern, type HeaderMatcher } from '../util/header-pattern.js';
import { affinityTag, backendTag, cookieValue } from './affinity.js';

const NEVER: HeaderMatcher = { test: () => false };
const matchers = new WeakMap<CanaryRule, HeaderMatcher>();

function matcherOf(rule: CanaryRule, source: string): HeaderMatcher {
  let m = matchers.get(rule);
  if (m === undefined) {
    // Translation refused patterns the engine cannot compile; NEVER only guards hand-built models.
    const compiled = compileHeaderPattern(source);
    m = compiled.ok ? compiled.matcher : NEVER;
    matchers.set(rule, m);
  }
  return m;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

/** `CanaryAffinity` is what step 1 and 2 need: each side's affinity cookie name, if sticky. */
export interface CanaryAffinity {
  readonly mainCookie?: string;
  readonly mainBackendKey: string;
  readonly canaryCookie?: string;
}

/** `routeToCanary` applies the order in the module comment; `random` is in [0, 1). */
export function routeToCanary(
  req: IncomingMessage,
  rule: CanaryRule,
  affinity: CanaryAffinity,
  random: () => number = Math.random,
): boolean {
  const cookies = req.headers.cookie;
  if (cookies !== undefined) {
    if (affinity.mainCookie !== undefined) {
      const tag = affinityTag(cookieValue(cookies, affinity.mainCookie));
      if (tag !== undefined && tag === backendTag(affinity.mainBackendKey)) return false;
    }
    if (affinity.canaryCookie !== undefined) {
      const tag = affinityTag(cookieValue(cookies, affinity.canaryCookie));
      if (tag !== undefined && tag === backendTag(rule.backend.key)) return true;
    }
  }
  if (rule.byHeader !== undefined) {
    const header = headerValue(req, rule.byHeader);
    if (header !== undefined) {
      if (rule.byHeaderValue !== undefined) {
        if (header === rule.byHeaderValue) return true;
      } else if (rule.byHeaderPattern !== undefined) {
        if (matcherOf(rule, rule.byHeaderPattern).test(header)) return true;
      } else if (header === 'always') return true;
      else if (header === 'never') return false;
    }
  }
  if (rule.byCookie !== undefined && cookies !== undefined) {
    const cookie = cookieValue(cookies, rule.byCookie);
    if (cookie === 'always') return true;
    if (cookie === 'never') return false;
  }
  if (rule.weight <= 0) return false;
  if (rule.weight >= rule.weightTotal) return true;
  return Math.floor(random() * rule.weightTotal) < rule.weight;
}
