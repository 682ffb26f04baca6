/**
 * `explain` answers "what would happen to this request?" from the live data plane: which Ingress,
 * rule and backend it would meet, the endpoints it could reach, and every policy on the way in hook
 * order, each with the verdict it would give now (limits are peeked, never consumed). It serves
 * `GET /explain` on the admin port and `portico explain`. The request is never sent anywhere.
 */

import { normalizeHost, normalizeRequestPath } from '../compile/normalize.js';
import type { RouteSnapshot } from '../compile/types.js';
import type { HttpsOptions } from '../config/types.js';
import type { PolicyEngine, PolicyExplanation } from '../policy/chain.js';
import { explainSelection } from './backend-selection.js';
import { isAcmeChallenge, wantsHttpsRedirect } from './redirect.js';

/** `ExplainQuery` is one hypothetical request. */
export interface ExplainQuery {
  readonly host: string;
  /** Request target: path and optional query string. */
  readonly path: string;
  /** Client address (default 127.0.0.1): what IP lists and per-client limits see. */
  readonly client?: string;
  /** Plain HTTP (default) or HTTPS, for redirects. */
  readonly scheme?: 'http' | 'https';
  /** Request headers that limit keys may read (`header:<name>`, `cookie:<name>`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** `ExplainSources` is the live state explain reads. */
export interface ExplainSources {
  readonly snapshot: () => RouteSnapshot;
  /** Ready endpoints (`ip:port`) of a backend key, as the data plane holds them. */
  readonly endpoints: (backendKey: string) => readonly string[];
  readonly policies: PolicyEngine;
  readonly https: () => HttpsOptions;
}

/** `ExplainReport` is the JSON answer. */
export interface ExplainReport {
  readonly request: {
    readonly host: string;
    readonly path: string;
    readonly client: string;
    readonly scheme: 'http' | 'https';
  };
  readonly generation: number;
  readonly match: {
    readonly kind: string;
    readonly ingress: string | null;
    readonly rule: {
      readonly host: string;
      readonly path: string;
      readonly pathType: string;
      readonly field: string;
    } | null;
    readonly backend: string | null;
    readonly backendProblem: string | null;
    readonly backendProtocol: string;
    readonly endpoints: readonly string[];
  };
  readonly steps: readonly PolicyExplanation[];
  /** One sentence: what the request would get. */
  readonly outcome: string;
}

/** `explainRequest` builds the report; an unusable query (bad path) is said in `outcome`. */
export async function explainRequest(query: ExplainQuery, sources: ExplainSources): Promise<ExplainReport> {
  const snapshot = sources.snapshot();
  const host = normalizeHost(query.host);
  const client = query.client ?? '127.0.0.1';
  const scheme = query.scheme ?? 'http';
  const normalized = normalizeRequestPath(query.path === '' ? '/' : query.path);
  const request = { host, path: query.path, client, scheme } as const;
  if (!normalized.ok) {
    return {
      request,
      generation: snapshot.generation,
      match: {
        kind: 'bad-request',
        ingress: null,
        rule: null,
        backend: null,
        backendProblem: null,
        backendProtocol: 'HTTP',
        endpoints: [],
      },
      steps: [],
      outcome: `400: ${normalized.reason}`,
    };
  }
  const match = snapshot.match(host, normalized.path);
  const steps: PolicyExplanation[] = [];
  let outcome: string | undefined;
  // Configured redirects (redirect family) answer before anything below; see resolve.ts.
  const configured =
    match.hostRedirect !== undefined
      ? { status: sources.https().redirectCode, location: `${scheme}://${match.hostRedirect}${query.path}` }
      : match.policy.redirect;
  if (configured !== undefined) {
    steps.push({ step: 'redirect', verdict: `redirect (${configured.status})` });
    outcome = `${configured.status} redirect to ${configured.location}`;
  }
  if (outcome === undefined && scheme === 'http' && wantsHttpsRedirect(match, sources.https())) {
    const exempt = isAcmeChallenge(normalized.path);
    steps.push({
      step: 'https-redirect',
      verdict: exempt ? 'pass (ACME HTTP-01 challenge path)' : `redirect (${sources.https().redirectCode})`,
    });
    if (!exempt) outcome = `${sources.https().redirectCode} redirect to https://${host}${query.path}`;
  }
  if (match.clientAuth !== undefined) {
    steps.push({
      step: 'client-certificate',
      verdict:
        match.clientAuth.deny !== undefined
          ? `refuse (503): ${match.clientAuth.deny}`
          : `verify ${match.clientAuth.verify} against ${match.clientAuth.caSecret.namespace}/${match.clientAuth.caSecret.name}`,
    });
  }
  if (configured === undefined && match.policy.deny !== undefined) {
    steps.push({ step: 'policy', verdict: `refuse (503): ${match.policy.deny}` });
    outcome ??= `503: ${match.policy.deny}`;
  }
  // Nothing after a configured redirect runs: no policy, no backend.
  const policySteps =
    configured === undefined ? await sources.policies.explain(match, client, host, query.headers) : [];
  steps.push(...policySteps);
  steps.push(...explainSelection(match, query.headers ?? {}));
  const backend = match.backend;
  const endpoints = backend === undefined ? [] : sources.endpoints(backend.key);
  if (outcome === undefined) {
    const refusing = policySteps.find((s) => s.verdict.startsWith('refuse'));
    if (refusing !== undefined) outcome = `${refusing.step}: ${refusing.verdict}`;
    else if (match.kind === 'not-found' || backend === undefined) outcome = '404: no route matches';
    else if (backend.problem !== undefined) outcome = `503: ${backend.problem}`;
    else if (endpoints.length === 0) outcome = `503: no ready endpoints for ${backend.key}`;
    else {
      const auth = policySteps.some((s) => s.step === 'basic-auth' || s.step === 'external-auth');
      outcome = `proxied to ${backend.key} (${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'})${auth ? ' once authenticated' : ''}`;
    }
  }
  const route = match.route;
  return {
    request,
    generation: snapshot.generation,
    match: {
      kind: match.kind,
      ingress: match.ingress ?? null,
      rule:
        route === undefined
          ? null
          : { host: route.host, path: route.path, pathType: route.pathType, field: route.field },
      backend: backend?.key ?? null,
      backendProblem: backend?.problem ?? null,
      backendProtocol: match.policy.backendProtocol,
      endpoints,
    },
    steps,
    outcome,
  };
}
