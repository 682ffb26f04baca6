/**
 * `upstream` is how a route talks to its backend beyond the protocol: per-route timeouts, the
 * request body limit, which failures go to the next endpoint, the Host header sent upstream and
 * ClusterIP instead of endpoints (ingress-nginx's `proxy`, `upstreamvhost` and `serviceupstream`
 * packages). Location scoped. The request-time half is `proxy/upstream-policy.ts`.
 */

import { nginxDuration, type Parsed, integer as settingsInteger } from '../settings/validators.js';
import type { NextUpstreamCondition, UpstreamPolicy } from '../types.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * `timeoutSeconds` reads a proxy timeout: whole seconds as ingress-nginx writes them (`"30"`), or
 * nginx time syntax (`"30s"`, `"500ms"`), into milliseconds; 0 is refused (nginx would time out at once).
 */
export const timeoutSeconds: Described<number> = described(
  nginxDuration(),
  'seconds: `"30"` (or nginx time: `"30s"`, `"500ms"`), greater than 0',
);

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * `bodySize` reads nginx's `client_max_body_size` syntax (bytes, or a `k`/`m`/`g` suffix in any
 * case) into bytes; `"0"` means no limit, as in nginx.
 */
export const bodySize: Described<number> = described((raw) => {
  const m = /^(\d+)([kmg]?)$/i.exec(raw.trim());
  if (m === null) return fail('must be a size such as "8m", "512k", "1g" or bytes; "0" means no limit');
  const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(bytes)) return fail('too large');
  return ok(bytes);
}, 'size: `"8m"`, `"512k"`, `"1g"`, bytes; `"0"` = no limit');

export const NEXT_UPSTREAM_CONDITIONS: readonly NextUpstreamCondition[] = [
  'error',
  'timeout',
  'invalid_header',
  'http_500',
  'http_502',
  'http_503',
  'http_504',
  'http_403',
  'http_404',
  'http_429',
  'non_idempotent',
  'off',
];

/**
 * `nextUpstream` reads nginx's `proxy_next_upstream` words, separated by spaces, deduplicated in
 * the order written. `off` wins over anything written with it, as nginx reads it.
 */
export const nextUpstream: Described<readonly NextUpstreamCondition[]> = described(
  (raw) => {
    const words = raw
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    if (words.length === 0) return fail('must list at least one condition, or "off"');
    const out: NextUpstreamCondition[] = [];
    for (const word of words) {
      const hit = NEXT_UPSTREAM_CONDITIONS.find((c) => c === word);
      if (hit === undefined) {
        return fail(`unknown condition ${JSON.stringify(word)}; use ${NEXT_UPSTREAM_CONDITIONS.join(', ')}`);
      }
      if (!out.includes(hit)) out.push(hit);
    }
    return ok(out.includes('off') ? ['off'] : out);
  },
  `space-separated: ${NEXT_UPSTREAM_CONDITIONS.map((c) => `\`${c}\``).join(', ')}`,
);

/** `retryBudget` reads `proxy-next-upstream-timeout`: seconds (or nginx time), `"0"` = no limit. */
export const retryBudget: Described<number> = described((raw) => {
  if (/^0+$/.test(raw.trim())) return ok(0);
  return nginxDuration()(raw);
}, 'seconds: `"10"` (or nginx time); `"0"` = no limit');

/**
 * `attempts` reads `proxy-next-upstream-tries`: any whole number, as ingress-nginx takes it (its
 * e2e test writes 888888); attempts never exceed the backend's endpoints anyway.
 */
export const attempts: Described<number> = described(
  settingsInteger(0, Number.MAX_SAFE_INTEGER),
  'int ≥ 0; `0` = no limit',
);

const HOST_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * `vhost` reads the Host header to send upstream: a DNS name or IPv4 address, optionally with
 * `:port`, lowercased. nginx variables (`$host`, …) are refused: annotations are data.
 */
export const vhost: Described<string> = described((raw) => {
  const v = raw.trim().toLowerCase();
  if (v.includes('$')) return fail('nginx variables are not supported; write the host name');
  const colon = v.lastIndexOf(':');
  const name = colon === -1 ? v : v.slice(0, colon);
  const port = colon === -1 ? undefined : v.slice(colon + 1);
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535)) {
    return fail('the port must be a number from 1 to 65535');
  }
  if (name.length === 0 || name.length > 253 || !HOST_LABELS.test(name)) {
    return fail('must be a host name, optionally with ":port"');
  }
  return ok(v);
}, 'host name, optionally `:port`');

const SECONDS_DIFFERS =
  'nginx time syntax (`"30s"`, `"500ms"`) is accepted too; ingress-nginx takes whole seconds only and silently keeps the default for anything else (`"50k"` is refused by both).';

export const upstreamAnnotations = defineAnnotations(
  'upstream',
  'Per-route upstream timeouts, the request body limit, retries on the next endpoint, the Host header sent upstream and ClusterIP instead of endpoints.',
  {
    'proxy-connect-timeout': {
      validate: timeoutSeconds,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `proxy-connect-timeout` (5s)',
      doc: 'Time allowed to open a connection to one endpoint of these routes; past it the attempt counts as `timeout` (next endpoint, else 504).',
      differs: SECONDS_DIFFERS,
    },
    'proxy-read-timeout': {
      validate: timeoutSeconds,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `proxy-read-timeout` (60s)',
      doc: 'Idle time between two reads from the upstream (waiting for the response headers, then between body chunks); past it: 504 if nothing was sent to the client, else the response is cut.',
      differs: SECONDS_DIFFERS,
    },
    'proxy-send-timeout': {
      validate: timeoutSeconds,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `proxy-send-timeout` (60s)',
      doc: 'Idle time while the upstream does not accept request body bytes; past it: 504.',
      differs: SECONDS_DIFFERS,
    },
    'proxy-body-size': {
      validate: bodySize,
      scope: 'location',
      risk: 'medium',
      default: 'ConfigMap `proxy-body-size` (1m)',
      doc: 'Largest request body accepted; above it Portico answers 413. A Content-Length above the limit is refused before the upstream is contacted; a chunked (or HTTP/2) body is counted as it streams and, once it crosses the limit, the upstream request is aborted and 413 answered (the response is cut instead if the upstream already answered). Nothing is buffered.',
      differs:
        'nginx buffers the body and refuses it before proxying; Portico streams, so an upstream may have received the first bytes of a chunked body that turns out too large (never the whole of it).',
    },
    'proxy-next-upstream': {
      validate: nextUpstream,
      scope: 'location',
      risk: 'medium',
      default: 'ConfigMap `proxy-next-upstream` (`error timeout invalid_header`)',
      doc: "Which failures send the request to the next endpoint: `error` (connection refused or reset), `timeout` (connect, send or read timeout), `invalid_header` (malformed response), `http_NNN` (the upstream answered that status; decided on the status line, before anything reaches the client), `non_idempotent` (also retry POST, PATCH, LOCK after the request may have reached the upstream), `off` (never). The list replaces the ConfigMap's as a whole. The last attempt's answer is relayed as it is.",
      differs:
        "Portico never buffers request bodies, so a request whose body was already (partly) sent is never retried, and status-based retries (`http_NNN`) apply to requests without a body only. Portico's default list adds `invalid_header` to ingress-nginx's `error timeout` (malformed responses were always retried).",
    },
    'proxy-next-upstream-tries': {
      validate: attempts,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `proxy-next-upstream-tries` (3)',
      doc: 'Attempts per request, the first included, and never more than the backend has endpoints; `0` means no limit (every endpoint once).',
    },
    'proxy-next-upstream-timeout': {
      validate: retryBudget,
      scope: 'location',
      risk: 'low',
      default: 'ConfigMap `proxy-next-upstream-timeout` (0: no limit)',
      doc: 'Time from the first attempt after which no further endpoint is tried; `"0"`: no limit.',
    },
    'upstream-vhost': {
      validate: vhost,
      scope: 'location',
      risk: 'low',
      default: "(the client's Host)",
      doc: "The Host header sent to the backend (HTTP/2 backends: `:authority`), WebSocket upgrades included. X-Forwarded-Host keeps the client's host.",
      differs: 'nginx variables (`$host`, `$http_x_…`) are refused.',
    },
    'service-upstream': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: connect to the Service\'s ClusterIP and port (kube-proxy balances) instead of its ready endpoints; retries and affinity then see one endpoint. A headless Service (`clusterIP: None`) keeps its endpoints, with a warning.',
      differs: 'The ConfigMap key `service-upstream` is not supported yet: set the annotation per Ingress.',
    },
  },
);

/**
 * `parseUpstream` reads the family; undefined when none of its annotations is set (or only
 * `service-upstream: "false"`), so such Ingresses keep the shared default policy.
 */
export function parseUpstream(reader: AnnotationReader): UpstreamPolicy | undefined {
  const t = upstreamAnnotations;
  const connect = reader.read(t, 'proxy-connect-timeout')?.value;
  const read = reader.read(t, 'proxy-read-timeout')?.value;
  const send = reader.read(t, 'proxy-send-timeout')?.value;
  const body = reader.read(t, 'proxy-body-size')?.value;
  const next = reader.read(t, 'proxy-next-upstream')?.value;
  const tries = reader.read(t, 'proxy-next-upstream-tries')?.value;
  const budget = reader.read(t, 'proxy-next-upstream-timeout')?.value;
  const host = reader.read(t, 'upstream-vhost')?.value;
  const clusterIp = reader.read(t, 'service-upstream')?.value;
  const policy: UpstreamPolicy = {
    ...(connect !== undefined ? { connectTimeoutMs: connect } : {}),
    ...(read !== undefined ? { readTimeoutMs: read } : {}),
    ...(send !== undefined ? { sendTimeoutMs: send } : {}),
    ...(body !== undefined ? { maxBodyBytes: body } : {}),
    ...(next !== undefined ? { nextUpstream: Object.freeze([...next]) } : {}),
    ...(tries !== undefined ? { nextUpstreamTries: tries } : {}),
    ...(budget !== undefined ? { nextUpstreamTimeoutMs: budget } : {}),
    ...(host !== undefined ? { vhost: host } : {}),
    ...(clusterIp === true ? { serviceUpstream: true } : {}),
  };
  return Object.keys(policy).length === 0 ? undefined : Object.freeze(policy);
}
