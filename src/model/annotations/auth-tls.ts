/**
 * `auth-tls` is client-certificate authentication (ingress-nginx's `authtls` package). Host
 * scoped, as in ingress-nginx (its values configure the nginx `server`): the oldest Ingress of a
 * host that sets `auth-tls-secret` supplies the policy for the whole host.
 */
import type { ClientCertVerify } from '../types.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { boolean, integer, oneOf, type SecretName, secretName } from './validators.js';

export const CLIENT_CERT_VERIFY: readonly ClientCertVerify[] = ['on', 'optional', 'optional_no_ca', 'off'];

export const authTlsAnnotations = defineAnnotations(
  'auth-tls',
  'Client-certificate (mutual TLS) authentication per host. Node asks for client certificates per listener, so once any host uses it every HTTPS client is asked for an optional certificate; only hosts with `auth-tls-secret` check it.',
  {
    'auth-tls-secret': {
      validate: secretName,
      scope: 'host',
      risk: 'medium',
      default: '(none)',
      doc: "Secret (`namespace/name` or `name`, in the Ingress's namespace) whose `ca.crt` is the CA bundle client certificates must chain to. Setting it turns client-certificate checks on for the host.",
      differs:
        "Only the Ingress's own namespace is allowed (a cross-namespace reference fails closed: 503). A missing or malformed Secret also fails closed (503), as ingress-nginx denies the location.",
    },
    'auth-tls-verify-client': {
      validate: oneOf(CLIENT_CERT_VERIFY),
      scope: 'host',
      risk: 'low',
      default: 'on',
      doc: '`on`: a valid client certificate is required (400 without one or with a bad one); `optional`: checked if sent; `optional_no_ca`: requested, and a certificate of an unknown issuer is passed upstream as `ssl-client-verify: FAILED:…` instead of refused (other errors, e.g. expired, still answer 400, as in nginx); `off`: not checked.',
    },
    'auth-tls-verify-depth': {
      validate: integer(1, 16),
      scope: 'host',
      risk: 'low',
      default: '1',
      doc: 'Longest allowed chain from the client certificate up to a CA of the bundle (1: issued directly by one).',
    },
    'auth-tls-pass-certificate-to-upstream': {
      validate: boolean,
      scope: 'host',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: send the client certificate upstream, URL-encoded PEM, in `ssl-client-cert`.',
    },
  },
);

/** `ClientAuthSettings` is the family's outcome for one Ingress, before host precedence. */
export interface ClientAuthSettings {
  readonly caSecret: FieldValue<SecretName>;
  readonly verify: ClientCertVerify;
  readonly depth: number;
  readonly passCertificate: boolean;
}

/** `parseAuthTls` returns the Ingress's client-auth settings, undefined without `auth-tls-secret`. */
export function parseAuthTls(reader: AnnotationReader): ClientAuthSettings | undefined {
  const secret = reader.read(authTlsAnnotations, 'auth-tls-secret');
  const verify = reader.read(authTlsAnnotations, 'auth-tls-verify-client');
  const depth = reader.read(authTlsAnnotations, 'auth-tls-verify-depth');
  const pass = reader.read(authTlsAnnotations, 'auth-tls-pass-certificate-to-upstream');
  if (secret === undefined) return undefined;
  return {
    caSecret: secret,
    verify: verify?.value ?? 'on',
    depth: depth?.value ?? 1,
    passCertificate: pass?.value ?? false,
  };
}
