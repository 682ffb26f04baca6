/**
 * `proxy-protocol` reads the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2) that a load balancer writes at the start of a TCP connection to pass on the client's address.
 *
 * Hand-written, not a library: the npm parsers (proxy-protocol-js, @balena/proxy-protocol-parser)
 * take one Buffer that must already hold the whole header, so the caller would still have to find
 * where the header ends across partial reads and bound its length, which is most of the work here;
 * proxy-protocol-js also accepts any token as a v1 address and does not separate a v2 header's TLVs
 * from the bytes that follow it, and the balena one is a single release on an old ip-address.
 *
 * The reader is incremental (feed it chunks as they arrive, one byte at a time if need be) and
 * strict: anything the specification does not allow is an error with a reason, and it decides as
 * early as the bytes allow (a connection starting `GET ` fails on its first byte).
 *
 * - v1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN…\r\n`, at most 107
 *   bytes with the CRLF. Addresses must match the family; ports are decimal 0–65535 without
 *   leading zeros; single spaces.
 * - v2: the 12-byte signature, version 2, command LOCAL or PROXY, a valid family/transport byte,
 *   a length that covers the address block, at most `MAX_V2_HEADER_BYTES` in all (nginx's limit).
 *   TLVs are skipped. LOCAL, AF_UNSPEC, and the families a TCP listener cannot use (UDP, UNIX)
 *   carry no client address: the receiver keeps the connection's own endpoints, as the
 *   specification asks of a receiver that does not support a valid family.
 */
import ipaddr from 'ipaddr.js';

/** `MAX_V1_HEADER_BYTES` is the specification's bound for a v1 line, CRLF included. */
export const MAX_V1_HEADER_BYTES = 107;
/** `MAX_V2_HEADER_BYTES` bounds a v2 header, TLVs included (nginx's NGX_PROXY_PROTOCOL_MAX_HEADER). */
export const MAX_V2_HEADER_BYTES = 4096;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_BYTES = 16;

/** `ProxyEndpoint` is one end of the original connection. */
export interface ProxyEndpoint {
  /** IPv4 dotted quad, or IPv6 in RFC 5952 form (IPv4-mapped ones as `::ffff:a.b.c.d`). */
  readonly address: string;
  readonly port: number;
}

/** `ProxyHeader` is a parsed header. */
export type ProxyHeader =
  | {
      readonly version: 1 | 2;
      /** The load balancer relays a client: `source` is that client. */
      readonly command: 'proxy';
      readonly family: 'tcp4' | 'tcp6';
      readonly source: ProxyEndpoint;
      readonly destination: ProxyEndpoint;
    }
  | {
      readonly version: 1 | 2;
      /**
       * No client address to use (v1 UNKNOWN, v2 LOCAL such as a health check, v2 AF_UNSPEC, UDP
       * or UNIX): the connection's own peer stands.
       */
      readonly command: 'local';
    };

/** `ProxyHeaderProgress` is what `ProxyHeaderReader.push` found so far. */
export type ProxyHeaderProgress =
  | { readonly state: 'more' }
  | {
      readonly state: 'done';
      readonly header: ProxyHeader;
      /** Bytes after the header (the start of the real stream), possibly empty. */
      readonly rest: Buffer;
      /** The header's own length in bytes. */
      readonly headerBytes: number;
    }
  | { readonly state: 'error'; readonly reason: string };

type Outcome = Exclude<ProxyHeaderProgress, { state: 'more' }>;

const error = (reason: string): Outcome => ({ state: 'error', reason });
const MORE: ProxyHeaderProgress = { state: 'more' };

/**
 * `ProxyHeaderReader` reads one header from the start of a byte stream; see the module comment.
 * Once it answered `done` or `error` it keeps answering the same.
 */
export class ProxyHeaderReader {
  #buffered: Buffer = Buffer.alloc(0);
  #outcome: Outcome | undefined;

  /** `push` adds the next chunk of the stream. */
  push(chunk: Buffer): ProxyHeaderProgress {
    if (this.#outcome !== undefined) return this.#outcome;
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const progress = readHeader(this.#buffered);
    if (progress.state !== 'more') {
      this.#outcome = progress;
      this.#buffered = Buffer.alloc(0);
    }
    return progress;
  }

  /** `buffered` is the number of bytes held while the header is incomplete. */
  get buffered(): number {
    return this.#buffered.length;
  }
}

/** `parseProxyHeader` reads a header from a buffer that starts the stream (`more`: not all there yet). */
export function parseProxyHeader(data: Buffer): ProxyHeaderProgress {
  return readHeader(data);
}

function readHeader(data: Buffer): ProxyHeaderProgress {
  if (data.length === 0) return MORE;
  if (data[0] === V1_PREFIX[0]) return readV1(data);
  if (data[0] === V2_SIGNATURE[0]) return readV2(data);
  return error('the connection does not start with a PROXY protocol header');
}

/** `startsLike` tells whether the first bytes of `data` agree with `prefix` as far as both go. */
function startsLike(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

function readV1(data: Buffer): ProxyHeaderProgress {
  if (!startsLike(data, V1_PREFIX))
    return error('the connection does not start with a PROXY protocol header');
  const window = Math.min(data.length, MAX_V1_HEADER_BYTES);
  const lf = data.subarray(0, window).indexOf(0x0a);
  if (lf === -1) {
    return data.length >= MAX_V1_HEADER_BYTES
      ? error(`v1 header longer than ${MAX_V1_HEADER_BYTES} bytes`)
      : MORE;
  }
  if (lf === 0 || data[lf - 1] !== 0x0d) return error('v1 header line does not end with CRLF');
  const line = data.subarray(V1_PREFIX.length, lf - 1).toString('latin1');
  const rest = data.subarray(lf + 1);
  const parsed = parseV1Line(line);
  if (typeof parsed === 'string') return error(parsed);
  return { state: 'done', header: parsed, rest, headerBytes: lf + 1 };
}

const PORT = /^(?:0|[1-9]\d{0,4})$/;

function parseV1Line(line: string): ProxyHeader | string {
  // UNKNOWN: the receiver must ignore whatever follows it on the line.
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return { version: 1, command: 'local' };
  const fields = line.split(' ');
  const family = fields[0];
  if (family !== 'TCP4' && family !== 'TCP6') {
    return `v1 protocol ${JSON.stringify(family)} is not TCP4, TCP6 or UNKNOWN`;
  }
  if (fields.length !== 5) return `v1 ${family} line must have 4 space-separated fields after the protocol`;
  const [, src, dst, sport, dport] = fields as [string, string, string, string, string];
  const source = v1Address(family, src, 'source');
  if (source.startsWith('v1 ')) return source;
  const destination = v1Address(family, dst, 'destination');
  if (destination.startsWith('v1 ')) return destination;
  const sourcePort = v1Port(sport);
  const destinationPort = v1Port(dport);
  if (sourcePort === undefined) return `v1 source port ${JSON.stringify(sport)} is not a port number`;
  if (destinationPort === undefined)
    return `v1 destination port ${JSON.stringify(dport)} is not a port number`;
  return {
    version: 1,
    command: 'proxy',
    family: family === 'TCP4' ? 'tcp4' : 'tcp6',
    source: { address: source, port: sourcePort },
    destination: { address: destination, port: destinationPort },
  };
}

/** The address in canonical form, or an error message starting `v1 `. */
function v1Address(family: 'TCP4' | 'TCP6', text: string, which: string): string {
  if (family === 'TCP4') {
    return ipaddr.IPv4.isValidFourPartDecimal(text)
      ? text
      : `v1 ${which} ${JSON.stringify(text)} is not an IPv4 address`;
  }
  // Zone ids ("fe80::1%eth0") mean nothing to the receiver; IPv4 text is not a TCP6 address.
  if (text.includes('%') || !text.includes(':') || !ipaddr.IPv6.isValid(text)) {
    return `v1 ${which} ${JSON.stringify(text)} is not an IPv6 address`;
  }
  return renderIPv6(ipaddr.IPv6.parse(text).toByteArray());
}

function v1Port(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}

// Version/command byte: high nibble the version (2), low nibble the command.
const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
// Family/transport byte: the valid combinations and their address block sizes.
const FAMILIES: ReadonlyMap<number, { readonly name: string; readonly addressBytes: number }> = new Map([
  [0x00, { name: 'UNSPEC', addressBytes: 0 }],
  [0x11, { name: 'TCP over IPv4', addressBytes: 12 }],
  [0x12, { name: 'UDP over IPv4', addressBytes: 12 }],
  [0x21, { name: 'TCP over IPv6', addressBytes: 36 }],
  [0x22, { name: 'UDP over IPv6', addressBytes: 36 }],
  [0x31, { name: 'UNIX stream', addressBytes: 216 }],
  [0x32, { name: 'UNIX datagram', addressBytes: 216 }],
]);

function readV2(data: Buffer): ProxyHeaderProgress {
  if (!startsLike(data, V2_SIGNATURE))
    return error('the connection does not start with a PROXY protocol header');
  if (data.length < V2_FIXED_BYTES) {
    // Fail on a bad version or family byte as soon as it is there.
    if (data.length > 12) {
      const early = v2FixedError(data);
      if (early !== undefined) return error(early);
    }
    return MORE;
  }
  const fixed = v2FixedError(data);
  if (fixed !== undefined) return error(fixed);
  const command = (data[12] as number) & 0x0f;
  const family = FAMILIES.get(data[13] as number) as { name: string; addressBytes: number };
  const length = data.readUInt16BE(14);
  const total = V2_FIXED_BYTES + length;
  if (total > MAX_V2_HEADER_BYTES) {
    return error(`v2 header of ${total} bytes is longer than the ${MAX_V2_HEADER_BYTES} accepted`);
  }
  if (command === COMMAND_PROXY && length < family.addressBytes) {
    return error(
      `v2 length ${length} is shorter than the ${family.addressBytes}-byte address block of ${family.name}`,
    );
  }
  if (data.length < total) return MORE;
  const rest = data.subarray(total);
  if (command === COMMAND_LOCAL)
    return { state: 'done', header: { version: 2, command: 'local' }, rest, headerBytes: total };
  const block = data.subarray(V2_FIXED_BYTES, total);
  const byte = data[13] as number;
  if (byte === 0x11) {
    const header: ProxyHeader = {
      version: 2,
      command: 'proxy',
      family: 'tcp4',
      source: { address: renderIPv4(block.subarray(0, 4)), port: block.readUInt16BE(8) },
      destination: { address: renderIPv4(block.subarray(4, 8)), port: block.readUInt16BE(10) },
    };
    return { state: 'done', header, rest, headerBytes: total };
  }
  if (byte === 0x21) {
    const header: ProxyHeader = {
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: renderIPv6(block.subarray(0, 16)), port: block.readUInt16BE(32) },
      destination: { address: renderIPv6(block.subarray(16, 32)), port: block.readUInt16BE(34) },
    };
    return { state: 'done', header, rest, headerBytes: total };
  }
  // UNSPEC, UDP, UNIX: valid, but no TCP client address (see the module comment).
  return { state: 'done', header: { version: 2, command: 'local' }, rest, headerBytes: total };
}

/** Checks the version/command byte and, when present, the family byte. */
function v2FixedError(data: Buffer): string | undefined {
  const versionCommand = data[12] as number;
  if (versionCommand >> 4 !== 2) return `v2 version ${versionCommand >> 4} is not 2`;
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY)
    return `v2 command ${command} is not LOCAL or PROXY`;
  if (data.length > 13 && !FAMILIES.has(data[13] as number)) {
    return `v2 family/transport byte 0x${(data[13] as number).toString(16).padStart(2, '0')} is not valid`;
  }
  return undefined;
}

function renderIPv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text; IPv4-mapped addresses as `::ffff:a.b.c.d`, the form Node gives a socket peer. */
function renderIPv6(bytes: ArrayLike<number>): string {
  const parts: number[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  const address = new ipaddr.IPv6(parts);
  if (address.isIPv4MappedAddress()) return `::ffff:${address.toIPv4Address().toString()}`;
  return address.toRFC5952String();
}
