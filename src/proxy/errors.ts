/**
 * `errors` holds the data plane's stable error codes (DESIGN §5) and the built-in response
 * bodies. Bodies are short text/plain sentences naming Portico, never a stack trace.
 */

/** `ProxyErrorCode` is a stable code for a request the data plane answered itself. Tests and logs assert on it. */
export type ProxyErrorCode =
  | 'PORTICO_ERR_BAD_REQUEST'
  | 'PORTICO_ERR_NO_ROUTE'
  | 'PORTICO_ERR_BACKEND_PROBLEM'
  | 'PORTICO_ERR_NO_ENDPOINTS'
  | 'PORTICO_ERR_POLICY_DENIED'
  | 'PORTICO_ERR_UPSTREAM_TLS_CONFIG'
  | 'PORTICO_ERR_UPSTREAM_TLS'
  | 'PORTICO_ERR_UPSTREAM_CONNECT'
  | 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_DNS'
  | 'PORTICO_ERR_UPSTREAM_RESET'
  | 'PORTICO_ERR_UPSTREAM_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_PROTOCOL'
  | 'PORTICO_ERR_UPSTREAM_CLOSED'
  | 'PORTICO_ERR_UPSTREAM'
  | 'PORTICO_ERR_CLIENT_BODY_TIMEOUT'
  /** Host ≠ TLS server name on a host that checks client certificates (421). */
  | 'PORTICO_ERR_MISDIRECTED'
  /** Client certificate missing where required, or refused (400). */
  | 'PORTICO_ERR_CLIENT_CERT'
  /** Client-certificate policy or CA bundle unusable: the host fails closed (503). */
  | 'PORTICO_ERR_CLIENT_AUTH_CONFIG'
  /** The client address is on the route's deny-list, or not on its allow-list (403). */
  | 'PORTICO_ERR_IP_DENIED'
  /** Too many concurrent requests for the limit's key (`limit-connections`). */
  | 'PORTICO_ERR_CONNECTION_LIMITED'
  /** Over the route's rate limit. */
  | 'PORTICO_ERR_RATE_LIMITED'
  /** Missing or wrong credentials (401). */
  | 'PORTICO_ERR_UNAUTHORIZED'
  /** Authentication configured but unusable (auth Secret missing or empty): the route fails closed (503). */
  | 'PORTICO_ERR_AUTH_CONFIG'
  /** The external auth service refused the request, failed, or redirected to sign-in. */
  | 'PORTICO_ERR_EXTERNAL_AUTH';

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** `statusLine` returns `"<status> <reason>"`, the start of every built-in body. */
export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Error'}`;
}

/** `notFoundBody` is the built-in 404 body for a request no route matches. */
export function notFoundBody(host: string, path: string): string {
  return `404 Not Found — no Portico route matches host ${JSON.stringify(host)} path ${JSON.stringify(path)}\n`;
}

/** `backendProblemBody` is the 503 body for a backend whose reference is broken (`BackendRef.problem`). */
export function backendProblemBody(backendKey: string, problem: string): string {
  return `503 Service Unavailable — Portico cannot route to backend ${backendKey}: ${problem}\n`;
}

/** `noEndpointsBody` is the 503 body for a backend without ready endpoints. */
export function noEndpointsBody(backendKey: string): string {
  return `503 Service Unavailable — no ready endpoints for service ${backendKey}\n`;
}

/** `policyDeniedBody` is the 503 body for a route whose annotations are unusable (`RoutePolicy.deny`): it fails closed. */
export function policyDeniedBody(reason: string): string {
  return `503 Service Unavailable — Portico refuses this route: ${reason}\n`;
}

/** `upstreamTlsConfigBody` is the 503 body for a verifying backend route without a usable CA bundle. */
export function upstreamTlsConfigBody(backendKey: string, reason: string): string {
  return `503 Service Unavailable — Portico cannot verify backend ${backendKey}: ${reason}\n`;
}

/** `badRequestBody` is the 400 body; `reason` comes from our own validation, never from an exception. */
export function badRequestBody(reason: string): string {
  return `400 Bad Request — ${reason}\n`;
}

/** `upstreamErrorBody` is the 502/503/504 body after a failed upstream exchange. */
export function upstreamErrorBody(status: number, backendKey: string, what: string): string {
  return `${statusLine(status)} — Portico: ${what} (backend ${backendKey})\n`;
}
