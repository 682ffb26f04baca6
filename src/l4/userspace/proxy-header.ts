/**
 * `proxy-header` writes the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * the user-space TCP proxy sends a backend before the client's first byte, so the backend learns the
 * client's address although the connection it sees comes from Portico. The reading side is
 * src/proxy/proxy-protocol.ts.
 *
 * Hand-written, not a library: a header is a fixed layout of at most 104 bytes (v1) or 52 (v2
 * without TLVs); the npm writers pull in a parser and a buffer library for this.
 *
 * Both ends must be of one family. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack
 * listener reports for an IPv4 client) are written as the IPv4 they are; when one end is IPv4 and
 * the other IPv6, the IPv4 one is written mapped (TCP6), as HAProxy does. An end whose address is
 * unknown (the socket was already closed) gives `PROXY UNKNOWN` (v1) or a LOCAL header (v2): the
 * backend then keeps the connection's own addresses, as the specification asks.
 */
import ipaddr from 'ipaddr.js';

export type ProxyProtocolVersion = 1 | 2;

/** `AddressPort` is one end of the client's connection. */
export interface AddressPort {
  readonly address: string;
  readonly port: number;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_VERSION_PROXY = 0x21;
const V2_VERSION_LOCAL = 0x20;
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

function parse(end: AddressPort | undefined): Parsed | undefined {
  if (!end || !Number.isInteger(end.port) || end.port < 0 || end.port > 65535) return undefined;
  if (!ipaddr.isValid(end.address)) return undefined;
  const parsed = ipaddr.parse(end.address);
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
    ? (parsed as ipaddr.IPv6).toIPv4Address()
    : parsed;
}

function asIPv6(address: Parsed): ipaddr.IPv6 {
  return address.kind() === 'ipv4'
    ? (address as ipaddr.IPv4).toIPv4MappedAddress()
    : (address as ipaddr.IPv6);
}

/** The pair as one family, or undefined when either end is unknown. */
function family(
  source: AddressPort | undefined,
  destination: AddressPort | undefined,
): { v6: boolean; source: Parsed; destination: Parsed } | undefined {
  const src = parse(source);
  const dst = parse(destination);
  if (!src || !dst) return undefined;
  if (src.kind() === 'ipv4' && dst.kind() === 'ipv4') return { v6: false, source: src, destination: dst };
  return { v6: true, source: asIPv6(src), destination: asIPv6(dst) };
}

function text(address: Parsed): string {
  if (address.kind() === 'ipv4') return address.toString();
  const v6 = address as ipaddr.IPv6;
  // RFC 5952 §5: an IPv4-mapped address keeps its IPv4 part dotted.
  return v6.isIPv4MappedAddress() ? `::ffff:${v6.toIPv4Address().toString()}` : v6.toRFC5952String();
}

/** `proxyHeaderV1` is the text header, e.g. `PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n`. */
export function proxyHeaderV1(source: AddressPort | undefined, destination: AddressPort | undefined): Buffer {
  const pair = family(source, destination);
  if (!pair || !source || !destination) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const proto = pair.v6 ? 'TCP6' : 'TCP4';
  const line = `PROXY ${proto} ${text(pair.source)} ${text(pair.destination)} ${source.port} ${destination.port}\r\n`;
  return Buffer.from(line, 'latin1');
}

/** `proxyHeaderV2` is the binary header: 16 fixed bytes, then 12 (TCP4) or 36 (TCP6) address bytes. */
export function proxyHeaderV2(source: AddressPort | undefined, destination: AddressPort | undefined): Buffer {
  const pair = family(source, destination);
  if (!pair || !source || !destination) {
    const local = Buffer.alloc(16);
    V2_SIGNATURE.copy(local, 0);
    local[12] = V2_VERSION_LOCAL;
    local[13] = 0x00; // AF_UNSPEC, UNSPEC
    local.writeUInt16BE(0, 14);
    return local;
  }
  const addressBytes = pair.v6 ? 16 : 4;
  const length = 2 * addressBytes + 4;
  const header = Buffer.alloc(16 + length);
  V2_SIGNATURE.copy(header, 0);
  header[12] = V2_VERSION_PROXY;
  header[13] = pair.v6 ? V2_TCP6 : V2_TCP4;
  header.writeUInt16BE(length, 14);
  Buffer.from(pair.source.toByteArray()).copy(header, 16);
  Buffer.from(pair.destination.toByteArray()).copy(header, 16 + addressBytes);
  header.writeUInt16BE(source.port, 16 + 2 * addressBytes);
  header.writeUInt16BE(destination.port, 16 + 2 * addressBytes + 2);
  return header;
}

/** `proxyHeader` is the header of the given version. */
export function proxyHeader(
  version: ProxyProtocolVersion,
  source: AddressPort | undefined,
  destination: AddressPort | undefined,
): Buffer {
  return version === 1 ? proxyHeaderV1(source, destination) : proxyHeaderV2(source, destination);
}
