/**
 * `backend-protocol` says how Portico speaks to a backend, and `proxy-ssl-*` how it checks an
 * HTTPS/GRPCS backend's certificate (ingress-nginx's `backendprotocol` and `proxyssl` packages).
 */
import type { BackendProtocol, SecretRef, UpstreamTlsPolicy } from '../types.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { hostname, oneOf, onOff, secretName } from './validators.js';

export const BACKEND_PROTOCOLS: readonly BackendProtocol[] = ['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'H2C'];

export const backendProtocolAnnotations = defineAnnotations(
  'backend-protocol',
  "How Portico connects to the backend, and how it checks an HTTPS or GRPCS backend's certificate.",
  {
    'backend-protocol': {
      validate: oneOf(BACKEND_PROTOCOLS, {
        ignoreCase: true,
        refused: {
          AUTO_HTTP: '"AUTO_HTTP" is not supported; use "HTTP", "HTTPS", "GRPC", "GRPCS" or "H2C"',
          FCGI: '"FCGI" is not supported: Portico proxies HTTP only',
        },
      }),
      scope: 'location',
      risk: 'low',
      default: 'HTTP',
      doc: '`HTTP` (HTTP/1.1), `HTTPS` (HTTP/1.1 over TLS), `GRPC` (HTTP/2 cleartext, prior knowledge), `GRPCS` (HTTP/2 over TLS), `H2C` (HTTP/2 cleartext for any HTTP traffic). Case-insensitive.',
      differs: "`H2C` is Portico's (Traefik's `h2c` scheme); `AUTO_HTTP` and `FCGI` are refused.",
    },
    'proxy-ssl-verify': {
      validate: onOff,
      scope: 'location',
      risk: 'low',
      default: 'off',
      doc: '`"on"`: verify an HTTPS/GRPCS backend\'s certificate against the CA bundle (`ca.crt`) of `proxy-ssl-secret`; a failed check answers 502. `"off"`: encrypt without verifying.',
    },
    'proxy-ssl-secret': {
      validate: secretName,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "Secret (`name` or `namespace/name`, in the Ingress's namespace) whose `ca.crt` holds the CA bundle backend certificates must chain to.",
      differs:
        "Only the Ingress's own namespace is allowed (a cross-namespace reference fails closed: 503); `tls.crt`/`tls.key` client certificates to the backend are not sent yet.",
    },
    'proxy-ssl-name': {
      validate: hostname,
      scope: 'location',
      risk: 'low',
      default: '`<service>.<namespace>.svc`',
      doc: 'Name the backend certificate must be valid for when `proxy-ssl-verify` is on; also the SNI name when `proxy-ssl-server-name` is on.',
    },
    'proxy-ssl-server-name': {
      validate: onOff,
      scope: 'location',
      risk: 'low',
      default: 'off',
      doc: '`"on"`: send the `proxy-ssl-name` (or its default) as SNI to HTTPS/GRPCS backends.',
    },
  },
);

/** `BackendProtocolPolicy` is the family's outcome. */
export interface BackendProtocolPolicy {
  readonly backendProtocol: BackendProtocol;
  readonly upstreamTls?: UpstreamTlsPolicy;
  /** Why the route must fail closed, if it must. */
  readonly deny?: string;
}

export function parseBackendProtocol(reader: AnnotationReader): BackendProtocolPolicy {
  const protocol = reader.read(backendProtocolAnnotations, 'backend-protocol')?.value ?? 'HTTP';
  const verify = reader.read(backendProtocolAnnotations, 'proxy-ssl-verify');
  const secret = reader.read(backendProtocolAnnotations, 'proxy-ssl-secret');
  const name = reader.read(backendProtocolAnnotations, 'proxy-ssl-name');
  const sni = reader.read(backendProtocolAnnotations, 'proxy-ssl-server-name');
  if (verify?.value === true && secret === undefined) {
    reader.problem(verify.field, '"on" needs proxy-ssl-secret: a Secret with the CA bundle (ca.crt)');
  }
  if (verify === undefined && secret === undefined && name === undefined && sni === undefined) {
    return { backendProtocol: protocol };
  }
  let deny: string | undefined;
  let caSecret: SecretRef | undefined;
  if (secret !== undefined) {
    const ns = secret.value.namespace ?? reader.namespace;
    if (ns !== reader.namespace) {
      deny = `${secret.key}: Secret ${ns}/${secret.value.name} is in another namespace; only Secrets in ${reader.namespace} may be used`;
    } else caSecret = { namespace: ns, name: secret.value.name };
  }
  const upstreamTls: UpstreamTlsPolicy = {
    verify: verify?.value ?? false,
    sendServerName: sni?.value ?? false,
    ...(caSecret !== undefined ? { caSecret } : {}),
    ...(name !== undefined ? { serverName: name.value } : {}),
  };
  return { backendProtocol: protocol, upstreamTls, ...(deny !== undefined ? { deny } : {}) };
}
