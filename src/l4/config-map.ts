/**
 * The ingress-nginx TCP/UDP services ConfigMap format (`--tcp-services-configmap`,
 * `--udp-services-configmap`), so users can bring theirs unchanged:
 *
 *   data:
 *     "5432": "db/postgres:5432"          # listen port → <namespace>/<service>:<port or port name>
 *     "9000": "web/app:http::PROXY"       # [:decode PROXY][:encode PROXY]
 *
 * Read as ingress-nginx's `getStreamServices` reads it (internal/ingress/controller/controller.go):
 * the key is the listen port, the value splits on `:` into the Service, its port (a number is a
 * Service port number, anything else a port name), then the optional PROXY fields: the first asks
 * to decode a PROXY header from the client, the second to send one to the backend; both only for
 * TCP (ignored for UDP). Ports reserved for the controller's own listeners are refused.
 *
 * Stricter than ingress-nginx, where it silently did something else: listen ports must be plain
 * 1–65535, a PROXY field must be `PROXY` (any case) or empty (a typo is rejected, not ignored),
 * more than four fields are rejected, and names are checked as Kubernetes names. Decoding PROXY
 * from the client is rejected: Portico's L4 proxy forwards the client's bytes untouched, so the
 * header would reach the backend as data (or twice, with encoding on).
 *
 * PURE: no I/O imports.
 */
import type { L4Protocol } from './model.js';

export interface ServicesEntry {
  /** The data key as written. */
  readonly key: string;
  readonly listenPort: number;
  readonly protocol: L4Protocol;
  readonly namespace: string;
  readonly service: string;
  /** A Service port number, or a Service port name. */
  readonly port: number | string;
  /** The second PROXY field: send a PROXY protocol (v1, as nginx's `proxy_protocol on`) header to the backend. */
  readonly sendProxy: boolean;
  /** Caveats of an accepted entry (a PROXY field ignored for UDP). */
  readonly warnings: readonly string[];
}

export type EntryParse =
  | { readonly ok: true; readonly entry: ServicesEntry }
  | { readonly ok: false; readonly reason: string };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const FORMAT = '<namespace>/<service>:<port>[:PROXY][:PROXY]';

/** `portNameProblem` checks an IANA_SVC_NAME (Kubernetes `IsValidPortName`). */
function portNameProblem(name: string): string | undefined {
  if (name.length > 15) return 'a port name has at most 15 characters';
  if (!/^[-a-z0-9]+$/.test(name) || !/[a-z]/.test(name) || name.includes('--') || /^-|-$/.test(name))
    return 'a port name has lower-case letters, digits and single inner hyphens, with at least one letter';
  return undefined;
}

/** `parsePort` reads a plain decimal port 1–65535 (no sign, no leading zero). */
export function parsePort(text: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * `parseServicesEntry` reads one data entry. `reserved` maps ports Portico's own listeners hold
 * to what holds them (e.g. `80 → "--http-port"`).
 */
export function parseServicesEntry(
  key: string,
  value: string,
  protocol: L4Protocol,
  reserved: ReadonlyMap<number, string> = new Map(),
): EntryParse {
  const listenPort = parsePort(key);
  if (listenPort === undefined)
    return { ok: false, reason: `${JSON.stringify(key)} is not a valid ${protocol} port number (1-65535)` };
  const holder = reserved.get(listenPort);
  if (holder !== undefined) {
    return {
      ok: false,
      reason: `port ${listenPort} cannot be used for ${protocol} stream services: it is reserved for Portico's ${holder}`,
    };
  }
  const fields = value.trim().split(':');
  if (fields.length < 2)
    return { ok: false, reason: `invalid Service reference ${JSON.stringify(value)}: expected ${FORMAT}` };
  if (fields.length > 4) {
    return {
      ok: false,
      reason: `invalid Service reference ${JSON.stringify(value)}: ${fields.length} fields, expected at most 4 (${FORMAT})`,
    };
  }
  const [nsName = '', portText = '', decode = '', encode = ''] = fields;
  const slash = nsName.split('/');
  if (slash.length !== 2)
    return { ok: false, reason: `${JSON.stringify(nsName)} is not <namespace>/<service>` };
  const [namespace = '', service = ''] = slash;
  if (!DNS_LABEL.test(namespace) || namespace.length > 63)
    return { ok: false, reason: `${JSON.stringify(namespace)} is not a namespace name` };
  if (!DNS_1035_LABEL.test(service) || service.length > 63)
    return { ok: false, reason: `${JSON.stringify(service)} is not a Service name` };
  let port: number | string;
  if (/^\d+$/.test(portText)) {
    const n = parsePort(portText);
    if (n === undefined)
      return { ok: false, reason: `Service port ${JSON.stringify(portText)} is not a port number (1-65535)` };
    port = n;
  } else {
    const problem = portText === '' ? 'it is empty' : portNameProblem(portText);
    if (problem !== undefined)
      return {
        ok: false,
        reason: `Service port ${JSON.stringify(portText)} is neither a number nor a port name: ${problem}`,
      };
    port = portText;
  }
  for (const [i, field] of [decode, encode].entries()) {
    if (field !== '' && field.toUpperCase() !== 'PROXY') {
      return {
        ok: false,
        reason: `field ${i + 3} ${JSON.stringify(field)} must be PROXY or empty (${FORMAT})`,
      };
    }
  }
  const decodeProxy = decode !== '';
  const encodeProxy = encode !== '';
  const warnings: string[] = [];
  if (protocol === 'UDP') {
    // ingress-nginx ignores both fields for UDP; kept, with a warning instead of silence.
    if (decodeProxy || encodeProxy)
      warnings.push('PROXY fields are ignored for UDP (PROXY protocol is TCP only)');
    return {
      ok: true,
      entry: { key, listenPort, protocol, namespace, service, port, sendProxy: false, warnings },
    };
  }
  if (decodeProxy) {
    return {
      ok: false,
      reason:
        'decoding PROXY protocol from clients (the first PROXY field) is not supported: Portico forwards the client bytes untouched, so the header would reach the backend as data; leave the field empty (":port::PROXY" sends PROXY to the backend)',
    };
  }
  return {
    ok: true,
    entry: { key, listenPort, protocol, namespace, service, port, sendProxy: encodeProxy, warnings },
  };
}
