/**
 * `forwarded-headers` builds the header list sent upstream: the client's headers minus
 * hop-by-hop ones, plus the X-Forwarded-* family, X-Real-IP and X-Request-ID.
 *
 * Trust model (ingress-nginx `use-forwarded-headers` + `proxy-real-ip-cidr`): from an untrusted
 * peer every forwarding header is OVERWRITTEN with what Portico saw, and `Forwarded` is REMOVED,
 * so a client cannot spoof its address. From a trusted peer (another proxy in front of Portico)
 * the peer is APPENDED to X-Forwarded-For and the other headers are kept, set only when absent.
 *
 * `ssl-client-*` (the client-certificate verdict) is REMOVED from every peer, trusted ones too:
 * Portico terminates TLS itself, so only its own check (`client-certs.ts`) may speak about the
 * client certificate, and a backend trusting `ssl-client-verify: SUCCESS` must never see one that
 * a client, or a proxy relaying a client's header, wrote.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import proxyAddr from 'proxy-addr';
import { acceptsTrailers, connectionTokens, isHopByHop } from './hop-by-hop.js';

/** `TrustFunction` tells whether a peer address is a trusted proxy. */
export type TrustFunction = (address: string) => boolean;

/**
 * `compileTrust` compiles the trusted-proxy CIDRs once (proxy-addr's matcher handles IPv4,
 * IPv6 and IPv4-mapped IPv6). An empty list trusts nobody without any per-request cost.
 * Throws on an invalid CIDR: that is a startup configuration error.
 */
export function compileTrust(cidrs: readonly string[]): TrustFunction {
  if (cidrs.length === 0) return () => false;
  // proxy-addr refuses a /0 prefix, yet "trust everyone" (ingress-nginx's proxy-real-ip-cidr
  // default 0.0.0.0/0) is a real setting: spell it as two /1 halves.
  const expanded = cidrs.flatMap((cidr) => {
    if (cidr === '0.0.0.0/0') return ['0.0.0.0/1', '128.0.0.0/1'];
    if (cidr === '::/0') return ['::/1', '8000::/1'];
    return [cidr];
  });
  const matcher = proxyAddr.compile(expanded);
  return (address) => address !== '' && matcher(address, 0);
}

/** `clientAddress` renders a socket's remote address as nginx does: IPv4-mapped IPv6 as plain IPv4. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return '';
  if (remote.startsWith('::ffff:') && remote.indexOf('.') !== -1) return remote.slice(7);
  return remote;
}

// The client a PROXY protocol header named for an accepted TCP connection (proxy-protocol-
// listener.ts fills it before the connection reaches HTTP or TLS). Weak: an entry goes with its socket.
const proxiedPeers = new WeakMap<object, string>();

/** `setProxiedPeer` records the client address (`clientAddress` form) a PROXY header gave for `socket`. */
export function setProxiedPeer(socket: Socket, address: string): void {
  proxiedPeers.set(socket, address);
}

/**
 * `peerAddress` is THE client address of the connection a request came on (`clientAddress`
 * form): what a PROXY protocol header named, else the TCP peer. Every use of the peer in the data
 * plane goes through it; the trusted-proxy rules then apply to this address.
 *
 * `socket` is the accepted socket (HTTP/1.1), the TLSSocket over it (HTTPS), or node:http2's
 * proxy of that TLSSocket (`req.socket` of an HTTP/2 request); the last two reach the accepted
 * socket through `_parent`, which node:tls sets on a server TLSSocket created over a net.Socket.
 */
export function peerAddress(socket: Socket | undefined): string {
  if (socket === undefined) return '';
  const proxied =
    proxiedPeers.get(socket) ?? proxiedPeers.get((socket as Socket & { _parent?: object })._parent ?? socket);
  return proxied ?? clientAddress(socket.remoteAddress);
}

// Request IDs: 32 hex characters like ingress-nginx's $req_id. A per-process random prefix plus
// a counter costs one string concat per request instead of 16 bytes of CSPRNG output; the IDs
// only need to be unique, not unguessable.
const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;

/** `generateRequestId` returns a fresh 32-hex-character request ID. */
export function generateRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return ID_PREFIX + idCounter.toString(16).padStart(16, '0');
}

/** `ForwardContext` is what the listener knows about the client connection. */
export interface ForwardContext {
  /** The peer's address (`clientAddress` form). */
  readonly peer: string;
  readonly trusted: boolean;
  readonly proto: 'http' | 'https';
  /** The listener's local port (X-Forwarded-Port). */
  readonly localPort: number;
  /** The X-Request-ID to send when the client sent none. */
  readonly requestId: string;
  /** For a WebSocket (or other) upgrade: the Upgrade value to keep; the Connection header becomes `upgrade`. */
  readonly upgrade?: string;
  /**
   * HTTP/2 backends (GRPC, GRPCS, H2C): a client's `TE: trailers` goes upstream as `te: trailers`
   * (the only TE HTTP/2 allows, RFC 9113 §8.2.2; gRPC servers require it). HTTP/1.1 backends never
   * get TE: it would need `Connection: TE`, which undici refuses.
   */
  readonly teTrailers?: boolean;
}

/** `UpstreamHeaders` is the result of `buildUpstreamHeaders`. */
export interface UpstreamHeaders {
  /** Flat `[name, value, …]` list for undici (or a raw HTTP/1.1 head). */
  readonly headers: string[];
  /** The first Host header as sent, if any. */
  readonly host: string | undefined;
  /** More than one Host header: the request must be refused (RFC 9112 §3.2). */
  readonly duplicateHost: boolean;
  /** The incoming X-Request-ID when the client sent one, else `ctx.requestId`. */
  readonly requestId: string;
}

/**
 * `buildUpstreamHeaders` turns the client's raw headers (`IncomingMessage.rawHeaders`, names as
 * sent, duplicates kept) into the list sent upstream. See the module comment for the trust rules.
 * `Expect` is dropped: Node already answered `100-continue` to the client, and undici refuses it.
 */
export function buildUpstreamHeaders(raw: readonly string[], ctx: ForwardContext): UpstreamHeaders {
  let named: ReadonlySet<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      const tokens = connectionTokens(raw[i + 1]);
      if (tokens !== undefined) {
        const merged = new Set(named);
        for (const t of tokens) merged.add(t);
        named = merged;
      }
    }
  }

  const trusted = ctx.trusted;
  const out: string[] = [];
  let host: string | undefined;
  let duplicateHost = false;
  let requestId: string | undefined;
  let xff: string | undefined;
  let hasRealIp = false;
  let hasProto = false;
  let hasFwdHost = false;
  let hasFwdPort = false;

  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, named)) {
      if (lower === 'te' && ctx.teTrailers === true && acceptsTrailers(value)) out.push('te', 'trailers');
      continue;
    }
    switch (lower) {
      case 'host':
        if (host !== undefined) {
          duplicateHost = true;
          continue;
        }
        host = value;
        break;
      case 'expect':
        continue;
      case 'x-request-id':
        if (requestId !== undefined) continue;
        requestId = value;
        break;
      case 'x-forwarded-for':
        // Collected and re-emitted once below, so several XFF lines become one list.
        if (trusted) xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'x-real-ip':
        if (!trusted) continue;
        hasRealIp = true;
        break;
      case 'x-forwarded-proto':
        if (!trusted) continue;
        hasProto = true;
        break;
      case 'x-forwarded-host':
        if (!trusted) continue;
        hasFwdHost = true;
        break;
      case 'x-forwarded-port':
        if (!trusted) continue;
        hasFwdPort = true;
        break;
      case 'forwarded':
        if (!trusted) continue;
        break;
      default:
        if (lower.startsWith('ssl-client-')) continue;
    }
    out.push(name, value);
  }

  out.push('x-forwarded-for', xff === undefined || xff === '' ? ctx.peer : `${xff}, ${ctx.peer}`);
  if (!hasRealIp) out.push('x-real-ip', ctx.peer);
  if (!hasProto) out.push('x-forwarded-proto', ctx.proto);
  if (!hasFwdHost && host !== undefined) out.push('x-forwarded-host', host);
  if (!hasFwdPort) out.push('x-forwarded-port', String(ctx.localPort));
  if (requestId === undefined) {
    requestId = ctx.requestId;
    out.push('x-request-id', requestId);
  }
  if (ctx.upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', ctx.upgrade);
  return { headers: out, host, duplicateHost, requestId };
}
