/**
 * Chain names, computed the way kube-proxy computes them so that people who know its rules can read
 * ours: pkg/proxy/iptables/proxier.go `portProtoHash` / `servicePortChainName` /
 * `servicePortEndpointChainName` (sha256 of "ns/svc:port" + lower-case protocol [+ "ip:port"],
 * standard base32, first 16 characters), and pkg/proxy/nftables/proxier.go
 * `servicePortChainNameBase` / `servicePortEndpointChainNameBase` (8-character hash prefix, then
 * the readable "ns/svc/proto/port[__ip/port]" name). Only the prefix differs: PORTICO- instead of
 * KUBE-, so with the same inputs the hash part equals kube-proxy's (tested against its goldens).
 *
 * PURE: no I/O imports. node:crypto is computation, not I/O.
 */
import { createHash } from 'node:crypto';
import {
  hostPort,
  type L4Endpoint,
  type L4Service,
  parseServicePortName,
  serviceDisplayName,
} from './model.js';

export const chainPrefix = 'PORTICO-';
export const servicesChain = 'PORTICO-SERVICES';
export const nodePortsChain = 'PORTICO-NODEPORTS';
export const markMasqueradeChain = 'PORTICO-MARK-MASQ';
export const postroutingChain = 'PORTICO-POSTROUTING';
/** `--redirect-privileged-ports`: node ports 80/443 sent to Portico's own HTTP listeners. */
export const redirectsChain = 'PORTICO-REDIRECTS';
export const serviceChainPrefix = 'PORTICO-SVC-';
export const endpointChainPrefix = 'PORTICO-SEP-';

/** The nftables table everything lives in (family inet: one table for IPv4 and IPv6). */
export const nftTable = 'portico';

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 standard base32 (Go's base32.StdEncoding), without padding: only prefixes are used. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32Alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += base32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

function hashPrefix(text: string, length: number): string {
  // Five bits per character: only the first ceil(length * 5 / 8) bytes of the digest are needed.
  const digest = createHash('sha256')
    .update(text)
    .digest()
    .subarray(0, Math.ceil((length * 5) / 8));
  return base32(digest).slice(0, length);
}

/**
 * Renders recompute every name on every sync and most are unchanged, so names are memoised per
 * service name, then per endpoint address and port: short keys, no string built per lookup. The
 * cap bounds memory when services churn (cleared wholesale; a refill costs one sync's hashing).
 */
interface EndpointNames {
  iptables?: string;
  nft?: string;
}
interface ServiceNames {
  readonly protocol: string;
  iptables?: string;
  nft?: string;
  readonly endpoints: Map<string, Map<number, EndpointNames>>;
}
const memo = new Map<string, ServiceNames>();
const memoCap = 100_000;

function namesOf(service: L4Service): ServiceNames {
  let names = memo.get(service.name);
  if (names === undefined || names.protocol !== service.protocol) {
    if (memo.size >= memoCap) memo.clear();
    names = { protocol: service.protocol, endpoints: new Map() };
    memo.set(service.name, names);
  }
  return names;
}

function endpointNamesOf(service: L4Service, endpoint: L4Endpoint): EndpointNames {
  const byAddress = namesOf(service).endpoints;
  let byPort = byAddress.get(endpoint.address);
  if (byPort === undefined) {
    byPort = new Map();
    byAddress.set(endpoint.address, byPort);
  }
  let names = byPort.get(endpoint.port);
  if (names === undefined) {
    names = {};
    byPort.set(endpoint.port, names);
  }
  return names;
}

/** kube-proxy's `portProtoHash(servicePortName, protocol)`: iptables chain names must stay ≤ 28 characters. */
function portProtoHash(service: L4Service): string {
  return hashPrefix(serviceDisplayName(service.name) + service.protocol.toLowerCase(), 16);
}

export function serviceChainName(service: L4Service): string {
  const names = namesOf(service);
  names.iptables ??= serviceChainPrefix + portProtoHash(service);
  return names.iptables;
}

export function endpointChainName(service: L4Service, endpoint: L4Endpoint): string {
  const names = endpointNamesOf(service, endpoint);
  names.iptables ??=
    endpointChainPrefix +
    hashPrefix(
      serviceDisplayName(service.name) +
        service.protocol.toLowerCase() +
        hostPort(endpoint.address, endpoint.port),
      16,
    );
  return names.iptables;
}

/** Chains Portico owns and may flush or delete; anything else in the table is never touched. */
export function isPorticoChain(chain: string): boolean {
  return chain.startsWith(chainPrefix);
}

/** Per-service chains (the ones partial syncs rewrite and stale-chain clean-up deletes). */
export function isServiceChain(chain: string): boolean {
  return chain.startsWith(serviceChainPrefix) || chain.startsWith(endpointChainPrefix);
}

// nftables allows long chain names; kube-proxy caps the readable part at 240 characters.
const nftNameMax = 240;

function hashAndTruncate(name: string): string {
  const full = `${hashPrefix(name, 8)}-${name}`;
  return full.length > nftNameMax ? `${full.slice(0, nftNameMax - 3)}...` : full;
}

function nftServiceBase(service: L4Service): string {
  const parts = parseServicePortName(service.name);
  // Renderers only see checked services; the fallback keeps the function total.
  if (!parts) return hashAndTruncate(service.name.replaceAll(/[^A-Za-z0-9/_.-]/g, '_'));
  return `${parts.namespace}/${parts.service}/${parts.protocol.toLowerCase()}/${parts.port}`;
}

export function nftServiceChainName(service: L4Service): string {
  const names = namesOf(service);
  names.nft ??= `service-${hashAndTruncate(nftServiceBase(service))}`;
  return names.nft;
}

export function nftEndpointChainName(service: L4Service, endpoint: L4Endpoint): string {
  const names = endpointNamesOf(service, endpoint);
  // Colons are not allowed in chain names; kube-proxy writes IPv6 addresses with dots.
  names.nft ??= `endpoint-${hashAndTruncate(`${nftServiceBase(service)}__${endpoint.address.replaceAll(':', '.')}/${endpoint.port}`)}`;
  return names.nft;
}
