/**
 * `hosts` holds the host-name rules of the Ingress API (k8s.io/apimachinery `IsDNS1123Subdomain`,
 * `IsWildcardDNS1123Subdomain`), shared by validation and translation.
 */

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const WILDCARD_SUBDOMAIN = new RegExp(`^\\*\\.${LABEL}(\\.${LABEL})*$`);
const DNS1123_LABEL = new RegExp(`^${LABEL}$`);
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** `MAX_SUBDOMAIN_LENGTH` is the DNS-1123 subdomain limit the API server enforces. */
export const MAX_SUBDOMAIN_LENGTH = 253;

/** `isDns1123Subdomain` says whether `value` is a lowercase RFC 1123 subdomain of at most 253 characters. */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && DNS1123_SUBDOMAIN.test(value);
}

/** `isWildcardDns1123Subdomain` says whether `value` is `*.` followed by a DNS-1123 subdomain. */
export function isWildcardDns1123Subdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && WILDCARD_SUBDOMAIN.test(value);
}

/** `isDns1123Label` says whether `value` is one lowercase RFC 1123 label of at most 63 characters. */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** `isDns1035Label` says whether `value` is a valid Service name (RFC 1035 label, at most 63 characters). */
export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS1035_LABEL.test(value);
}

/**
 * `isIpAddress` says whether `value` parses as an IP address. Like Go's `ParseIPSloppy`, IPv4 octets may
 * carry leading zeros; anything with a colon that is not a DNS name is taken as IPv6.
 */
export function isIpAddress(value: string): boolean {
  if (IPV4.test(value)) return value.split('.').every((octet) => Number(octet) <= 255);
  return value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value);
}

/**
 * `hostProblem` checks a rule or TLS host as the API server does and returns why it is invalid, or
 * undefined. The host is checked lowercased: DNS names are case-insensitive (RFC 4343), and Portico
 * lowercases hosts anyway, so `Foo.Example` in a hand-written manifest is accepted as `foo.example`.
 */
export function hostProblem(host: string): string | undefined {
  const lower = host.toLowerCase();
  if (isIpAddress(lower)) return 'must be a DNS name, not an IP address';
  if (lower.includes('*')) {
    return isWildcardDns1123Subdomain(lower)
      ? undefined
      : "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com')";
  }
  if (lower.length > MAX_SUBDOMAIN_LENGTH) return 'must be no more than 253 characters';
  return isDns1123Subdomain(lower)
    ? undefined
    : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
}

/** `isWildcardHost` says whether a (valid) rule host is a wildcard such as `*.example.com`. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*.');
}
