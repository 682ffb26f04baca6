/**
 * `ip-filter` is client-address access control (ingress-nginx's `ipallowlist` and `ipdenylist`
 * packages). Location scoped: the lists apply to the routes of the Ingress that sets them. The
 * request-time check is `policy/ip-filter.ts`; here the lists are only validated and normalised.
 */
import ipaddr from 'ipaddr.js';
import { isAddressOrCidr, type Parsed } from '../settings/validators.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { type Described, described } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * `normaliseCidr` writes an address or CIDR the one way the policy compiles it: network address
 * (host bits cleared), explicit prefix, IPv6 in RFC 5952 form, and IPv4-mapped IPv6 networks of
 * /96 or longer as the IPv4 network they mean (peers arrive as `::ffff:a.b.c.d` on dual-stack
 * sockets and are matched as IPv4). Undefined when `item` is not an address or CIDR.
 */
export function normaliseCidr(item: string): string | undefined {
  if (!isAddressOrCidr(item)) return undefined;
  const slash = item.indexOf('/');
  const address = ipaddr.parse(slash === -1 ? item : item.slice(0, slash));
  const max = address.kind() === 'ipv4' ? 32 : 128;
  const prefix = slash === -1 ? max : Number(item.slice(slash + 1));
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && prefix >= 96) {
    const v4 = address.toIPv4Address();
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${v4.toString()}/${prefix - 96}`).toString()}/${prefix - 96}`;
  }
  const network =
    address instanceof ipaddr.IPv4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
  return `${network.toString()}/${prefix}`;
}

/**
 * `cidrSet` reads a comma-separated list of IPv4/IPv6 addresses and CIDRs (ingress-nginx's
 * `[]string`), at least one, normalised and deduplicated. Every bad item is named, not only the first.
 */
export const cidrSet: Described<readonly string[]> = described((raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return fail('must list at least one CIDR or address');
  const out = new Set<string>();
  const bad: string[] = [];
  for (const item of items) {
    const cidr = normaliseCidr(item);
    if (cidr === undefined) bad.push(JSON.stringify(item));
    else out.add(cidr);
  }
  if (bad.length > 0)
    return fail(`${bad.join(', ')} ${bad.length === 1 ? 'is' : 'are'} not an IP address or CIDR`);
  return ok([...out]);
}, 'comma-separated IPv4/IPv6 addresses and CIDRs');

export const ipFilterAnnotations = defineAnnotations(
  'ip-filter',
  "Allow or deny clients by address. The client address is the connection's peer, or the address `use-forwarded-headers`/`use-proxy-protocol` establish; IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) are matched as IPv4. The deny-list is checked first, then the allow-list; refused requests answer 403.",
  {
    'allowlist-source-range': {
      validate: cidrSet,
      scope: 'location',
      risk: 'low',
      default: '(all addresses)',
      doc: "Only clients in these ranges may use this Ingress's routes, e.g. `10.0.0.0/8, 2001:db8::/32, 192.168.1.7`.",
      aliases: ['whitelist-source-range'],
    },
    'denylist-source-range': {
      validate: cidrSet,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: "Clients in these ranges are refused (403) on this Ingress's routes, even when the allow-list includes them.",
    },
  },
);

/** `IpFilterLists` is the family's outcome: normalised CIDRs (`a.b.c.d/n`, `x::/n`). */
export interface IpFilterLists {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** `parseIpFilter` returns the lists that are set (an empty object when neither is). */
export function parseIpFilter(reader: AnnotationReader): IpFilterLists {
  const allow = reader.read(ipFilterAnnotations, 'allowlist-source-range');
  const deny = reader.read(ipFilterAnnotations, 'denylist-source-range');
  return {
    ...(allow !== undefined ? { allow: allow.value } : {}),
    ...(deny !== undefined ? { deny: deny.value } : {}),
  };
}
