/**
 * `flags` parses Portico's command line into the process configuration. One table defines every
 * flag, its default and its documentation, so `--help` cannot drift from what is parsed.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { type HstsOptions, type ProxyOptions, REDIRECT_CODES, type RedirectCode } from '../config/types.js';
import { isKernelMode, L4_MODES, type L4Mode } from '../l4/translate.js';
import { bodySize, nextUpstream, retryBudget } from '../model/annotations/upstream.js';
import { KNOWN_KINDS } from '../model/objects.js';
import { cipherList, INGRESS_NGINX_CIPHERS, nginxSize, tlsProtocols } from '../model/settings/tls.js';
import { type Parsed, boolean as parseBoolean } from '../model/settings/validators.js';
import type { TranslateOptions } from '../model/translate/translate.js';

/** `FlagError` is a bad command line; the CLI prints its message and exits 2. */
export class FlagError extends Error {
  readonly code = 'PORTICO_ERR_FLAG';
}

interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder shown in `--help`, e.g. `DIR`. */
  readonly value?: string;
  readonly default?: string;
  readonly doc: string;
  readonly group:
    | 'General'
    | 'Listeners'
    | 'Ingress selection'
    | 'Upstream'
    | 'Client'
    | 'TLS'
    | 'Lifecycle'
    | 'Policies'
    | 'L4'
    | 'Cluster';
}

/** `a, b and c`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `FLAGS` is the single definition of every command-line flag. */
export const FLAGS = {
  manifests: {
    type: 'string',
    value: 'DIR',
    // From the store's own list, so the help cannot miss a kind file mode reads.
    doc: `File mode: load ${listOf(KNOWN_KINDS)} manifests from DIR (*.yaml, *.yml, *.json, recursively) and reload on change; other kinds are skipped. Loopback endpoint addresses are accepted: local use only. Without it Portico runs in cluster mode against the Kubernetes API.`,
    group: 'General',
  },
  'access-log': {
    type: 'string',
    value: 'stdout|off|FILE',
    default: 'stdout',
    doc: 'Access log: one JSON line per request ("type":"access": client, method, host, path without query, status, bytes, duration, upstream, upstream status and time, Ingress, Service) to stdout, to FILE, or off. ConfigMap disable-access-log and the enable-access-log annotation switch lines off.',
    group: 'General',
  },
  'log-level': {
    type: 'string',
    value: 'LEVEL',
    default: 'info',
    doc: `Log level: ${LOG_LEVELS.join(', ')}.`,
    group: 'General',
  },
  help: { type: 'boolean', doc: 'Print this help and exit.', group: 'General' },
  version: { type: 'boolean', doc: 'Print the version and exit.', group: 'General' },
  'http-port': {
    type: 'string',
    value: 'PORT',
    default: '80',
    doc: 'HTTP listener port (0 = any free port).',
    group: 'Listeners',
  },
  'https-port': {
    type: 'string',
    value: 'PORT',
    default: '443',
    doc: 'HTTPS listener port (0 = any free port): TLS 1.2/1.3 termination with the spec.tls Secrets chosen by SNI.',
    group: 'Listeners',
  },
  'admin-port': {
    type: 'string',
    value: 'PORT',
    default: '10254',
    doc: 'Admin listener port for /healthz, /readyz and /routes (0 = any free port).',
    group: 'Listeners',
  },
  'bind-address': {
    type: 'string',
    value: 'ADDR',
    default: '0.0.0.0',
    doc: 'IP address the listeners bind to.',
    group: 'Listeners',
  },
  'trusted-proxies': {
    type: 'string',
    value: 'CIDR,...',
    default: '',
    doc: 'Comma-separated CIDRs or addresses whose X-Forwarded-* headers are trusted.',
    group: 'Listeners',
  },
  'use-proxy-protocol': {
    type: 'string',
    value: 'BOOL',
    default: 'false',
    doc: 'Require a PROXY protocol header (v1 or v2, from a load balancer in front) at the start of every connection to the HTTP and HTTPS listeners; its source address becomes the client address, and a connection without a valid one is closed (ConfigMap use-proxy-protocol).',
    group: 'Listeners',
  },
  'proxy-protocol-header-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '5s',
    doc: 'Time a connection has to send its PROXY protocol header (ConfigMap proxy-protocol-header-timeout).',
    group: 'Listeners',
  },
  'ssl-redirect': {
    type: 'string',
    value: 'BOOL',
    default: 'true',
    doc: 'Redirect plain-HTTP requests for hosts listed in spec.tls to HTTPS (ConfigMap ssl-redirect; per Ingress the ssl-redirect annotation). Paths under /.well-known/acme-challenge/ are never redirected.',
    group: 'Listeners',
  },
  'force-ssl-redirect': {
    type: 'string',
    value: 'BOOL',
    default: 'false',
    doc: 'Redirect plain-HTTP requests to HTTPS for every host, with or without TLS, e.g. when a load balancer terminates TLS (ConfigMap force-ssl-redirect; per Ingress the force-ssl-redirect annotation).',
    group: 'Listeners',
  },
  'http-redirect-code': {
    type: 'string',
    value: 'CODE',
    default: '308',
    doc: 'Status of HTTP to HTTPS redirects: 301, 302, 307 or 308 (ConfigMap http-redirect-code).',
    group: 'Listeners',
  },
  'https-redirect-port': {
    type: 'string',
    value: 'PORT',
    doc: 'Port written into HTTPS redirect locations (https://host:PORT/...) when clients reach HTTPS on a port other than 443, e.g. a NodePort. Default: no port.',
    group: 'Listeners',
  },
  hsts: {
    type: 'string',
    value: 'VALUE|off',
    default: 'max-age=31536000; includeSubDomains',
    doc: 'Strict-Transport-Security header of HTTPS responses for hosts listed in spec.tls: max-age=SECONDS, optionally with includeSubDomains and preload, or off (ConfigMap hsts, hsts-max-age, hsts-include-subdomains, hsts-preload).',
    group: 'Listeners',
  },
  'controller-class': {
    type: 'string',
    value: 'NAME',
    default: 'portico.dev/ingress-controller',
    doc: 'IngressClass spec.controller value this controller serves.',
    group: 'Ingress selection',
  },
  'ingress-class': {
    type: 'string',
    value: 'NAME',
    default: 'portico',
    doc: 'IngressClass name (and legacy kubernetes.io/ingress.class value) served. File mode assumes an IngressClass of this name when the folder defines none.',
    group: 'Ingress selection',
  },
  'watch-ingress-without-class': {
    type: 'boolean',
    doc: 'Also serve Ingresses that name no class at all.',
    group: 'Ingress selection',
  },
  'default-backend-service': {
    type: 'string',
    value: 'NS/NAME:PORT',
    doc: 'Service port that answers requests no Ingress matches (default: built-in 404).',
    group: 'Ingress selection',
  },
  'proxy-connect-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '5s',
    doc: 'Timeout for connecting to an upstream.',
    group: 'Upstream',
  },
  'proxy-read-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '60s',
    doc: 'Idle time between two reads from an upstream before 504.',
    group: 'Upstream',
  },
  'proxy-send-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '60s',
    doc: 'Idle time between two writes to an upstream before 504.',
    group: 'Upstream',
  },
  'proxy-next-upstream-tries': {
    type: 'string',
    value: 'N',
    default: '3',
    doc: 'Attempts per request, the first included, when connecting to an upstream fails.',
    group: 'Upstream',
  },
  'proxy-next-upstream': {
    type: 'string',
    value: 'WORDS',
    default: 'error timeout invalid_header',
    doc: "Failures retried on the next endpoint, as nginx's proxy_next_upstream: error timeout invalid_header http_500 http_502 http_503 http_504 http_403 http_404 http_429 non_idempotent off.",
    group: 'Upstream',
  },
  'proxy-next-upstream-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '0',
    doc: 'Time after which no further endpoint is tried for a request; 0 = no limit.',
    group: 'Upstream',
  },
  'proxy-body-size': {
    type: 'string',
    value: 'SIZE',
    default: '1m',
    doc: 'Largest request body accepted (413 above it), e.g. 8m, 512k; 0 = no limit (ConfigMap and annotation proxy-body-size).',
    group: 'Upstream',
  },
  'client-header-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '60s',
    doc: 'Time a client has to send the request headers.',
    group: 'Client',
  },
  'client-body-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '60s',
    doc: 'Idle time between two reads of a client request body.',
    group: 'Client',
  },
  'keepalive-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '75s',
    doc: 'How long an idle client keep-alive connection stays open.',
    group: 'Client',
  },
  'max-header-size': {
    type: 'string',
    value: 'SIZE',
    default: '32k',
    doc: 'Largest request header block accepted (e.g. 16k, 1m, or bytes).',
    group: 'Client',
  },
  'ssl-protocols': {
    type: 'string',
    value: 'VERSIONS',
    default: 'TLSv1.2 TLSv1.3',
    doc: 'TLS versions the HTTPS listener accepts: TLSv1.2, TLSv1.3 or both (blank-separated).',
    group: 'TLS',
  },
  'ssl-ciphers': {
    type: 'string',
    value: 'CIPHERS',
    default: INGRESS_NGINX_CIPHERS,
    doc: "OpenSSL cipher string for TLS 1.2 (TLS 1.3 keeps OpenSSL's default suites); default: ingress-nginx's list.",
    group: 'TLS',
  },
  'ssl-session-cache': {
    type: 'string',
    value: 'BOOL',
    default: 'true',
    doc: 'Resume TLS 1.2 sessions by session ID from an in-memory cache.',
    group: 'TLS',
  },
  'ssl-session-cache-size': {
    type: 'string',
    value: 'SIZE',
    default: '10m',
    doc: 'Most session data the session cache holds (least recently used sessions go first).',
    group: 'TLS',
  },
  'ssl-session-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '10m',
    doc: 'How long a TLS session stays resumable.',
    group: 'TLS',
  },
  'ssl-session-tickets': {
    type: 'string',
    value: 'BOOL',
    default: 'false',
    doc: 'Issue TLS session tickets (off, as in ingress-nginx: the ticket key never rotates).',
    group: 'TLS',
  },
  'use-http2': {
    type: 'string',
    value: 'BOOL',
    default: 'true',
    doc: 'Offer HTTP/2 (ALPN h2) on the HTTPS listener, beside HTTP/1.1.',
    group: 'TLS',
  },
  'shutdown-delay': {
    type: 'string',
    value: 'DURATION',
    doc: 'On SIGTERM/SIGINT, answer /readyz 503 but keep serving this long before draining, so load balancers and endpoint controllers notice first. (default 0s in file mode, 5s in cluster mode)',
    group: 'Lifecycle',
  },
  'drain-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '20s',
    doc: 'After the shutdown delay, how long in-flight requests get to finish.',
    group: 'Lifecycle',
  },
  kubeconfig: {
    type: 'string',
    value: 'PATH',
    doc: 'Cluster mode: kubeconfig file. Default: $KUBECONFIG, else the in-cluster service account.',
    group: 'Cluster',
  },
  'watch-namespace': {
    type: 'string',
    value: 'NS,...',
    doc: 'Cluster mode: watch only these namespaces (comma-separated). Default: all namespaces.',
    group: 'Cluster',
  },
  configmap: {
    type: 'string',
    value: 'NS/NAME',
    doc: 'ConfigMap holding global settings under ingress-nginx key names (file mode: the ConfigMap of that name in the folder).',
    group: 'Cluster',
  },
  'redis-url': {
    type: 'string',
    value: 'URL',
    doc: 'Redis for rate limits shared by every replica (redis://[user:password@]host:port[/db], rediss:// for TLS). Given, limits are shared by default (limit-store annotation: memory|redis per Ingress); unreachable, each replica enforces its share in memory until Redis answers again.',
    group: 'Policies',
  },
  'redis-timeout': {
    type: 'string',
    value: 'DURATION',
    default: '50ms',
    doc: 'Longest a request waits for Redis before its limit is checked in memory instead.',
    group: 'Policies',
  },
  'replicas-hint': {
    type: 'string',
    value: 'N',
    default: '1',
    doc: "Ready Portico replicas, for the in-memory share of a shared limit while Redis is unreachable (the limit divided by N). In cluster mode with --publish-service, the Service's ready endpoints are counted instead.",
    group: 'Policies',
  },
  'limit-req-status-code': {
    type: 'string',
    value: 'CODE',
    default: '503',
    doc: 'Status of requests refused by rate limits written with ingress-nginx annotations (ConfigMap limit-req-status-code). portico.dev/ limits answer 429 or their limit-status-code.',
    group: 'Policies',
  },
  'limit-conn-status-code': {
    type: 'string',
    value: 'CODE',
    default: '503',
    doc: 'Status of requests refused by connection limits written with ingress-nginx annotations (ConfigMap limit-conn-status-code).',
    group: 'Policies',
  },
  'tcp-services-configmap': {
    type: 'string',
    value: 'NS/NAME',
    doc: 'ConfigMap of TCP services in ingress-nginx\'s format: "<listen port>": "<namespace>/<service>:<port>[:PROXY][:PROXY]" (the second PROXY sends PROXY protocol to the backend; the first, decoding it from clients, is rejected). File mode: the ConfigMap of that name in the folder.',
    group: 'L4',
  },
  'udp-services-configmap': {
    type: 'string',
    value: 'NS/NAME',
    doc: 'ConfigMap of UDP services, same format (PROXY fields are ignored for UDP).',
    group: 'L4',
  },
  'l4-mode': {
    type: 'string',
    value: 'MODE',
    default: 'userspace',
    doc: "How TCP/UDP services (those ConfigMaps and L4Routes) are forwarded, one mode per process as kube-proxy's --proxy-mode: userspace (Portico pipes the bytes; PROXY protocol and idle timeouts need it), iptables, ipvs or nftables (the kernel forwards; needs CAP_NET_ADMIN and CAP_NET_RAW).",
    group: 'L4',
  },
  'node-ip': {
    type: 'string',
    value: 'ADDR',
    doc: 'Node address kernel L4 modes match and IPVS virtual servers listen on (required for ipvs). Default (iptables, nftables): any local address. Its family picks the family of iptables and IPVS rules.',
    group: 'L4',
  },
  'redirect-privileged-ports': {
    type: 'boolean',
    doc: "Kernel L4 modes, with hostNetwork: send TCP connections to the node's ports 80 and 443 to the --http-port and --https-port listeners (a nat REDIRECT rule in Portico's own chain), so the HTTP data plane listens on unprivileged ports without root or NET_BIND_SERVICE. Matches --node-ip, else any local address but loopback. A pair is skipped when its listener already is on that port, or on 0. Off by default; needs --l4-mode iptables, ipvs or nftables.",
    group: 'L4',
  },
  'cleanup-on-exit': {
    type: 'boolean',
    doc: 'Kernel L4 modes: remove every rule Portico owns (PORTICO-* chains, table inet portico, its IPVS virtual servers) when it stops. Off by default, as kube-proxy: the kernel keeps forwarding across a restart or rolling update.',
    group: 'L4',
  },
  'l4-full-sync-period': {
    type: 'string',
    value: 'DURATION',
    default: '1h',
    doc: 'Kernel L4 modes: rewrite all rules at least this often (changes are applied as they come; a failed apply forces a full sync at once).',
    group: 'L4',
  },
  'publish-service': {
    type: 'string',
    value: 'NS/NAME',
    doc: "Service whose load-balancer addresses (or, for a NodePort Service, external IPs or nodes' addresses) are written to served Ingresses' status.",
    group: 'Cluster',
  },
  'publish-status-address': {
    type: 'string',
    value: 'ADDR,...',
    doc: "IPs or hostnames written to served Ingresses' status instead of --publish-service's.",
    group: 'Cluster',
  },
  'default-ssl-certificate': {
    type: 'string',
    value: 'NS/NAME',
    doc: 'kubernetes.io/tls Secret served for unknown TLS names and clients without SNI (file mode: the Secret of that name in the folder). Default: a self-signed certificate generated at start-up.',
    group: 'Cluster',
  },
  'election-id': {
    type: 'string',
    value: 'NAME',
    default: 'portico-leader',
    doc: 'Name of the coordination.k8s.io Lease used for leader election (only the leader writes status).',
    group: 'Cluster',
  },
  'election-namespace': {
    type: 'string',
    value: 'NS',
    doc: 'Namespace of the election Lease. Default: $POD_NAMESPACE, else default.',
    group: 'Cluster',
  },
  'lease-duration': {
    type: 'string',
    value: 'DURATION',
    default: '15s',
    doc: 'How long a Lease holds without renewal before another replica may take it.',
    group: 'Cluster',
  },
  'renew-deadline': {
    type: 'string',
    value: 'DURATION',
    default: '10s',
    doc: 'How long the leader keeps trying to renew before it stops acting as leader.',
    group: 'Cluster',
  },
  'retry-period': {
    type: 'string',
    value: 'DURATION',
    default: '2s',
    doc: 'Interval between Lease acquire and renew attempts.',
    group: 'Cluster',
  },
  'admission-listen': {
    type: 'string',
    value: 'ADDR:PORT',
    doc: 'Serve the validating admission webhook (HTTPS) on this address, e.g. 0.0.0.0:8443. Off by default.',
    group: 'Cluster',
  },
  'admission-cert-dir': {
    type: 'string',
    value: 'DIR',
    doc: 'Folder with tls.crt and tls.key for the admission webhook.',
    group: 'Cluster',
  },
} as const satisfies Record<string, FlagSpec>;

/** `ObjectName` names a namespaced object, e.g. from `--publish-service ns/name`. */
export interface ObjectName {
  readonly namespace: string;
  readonly name: string;
}

/** `ClusterConfig` is what cluster mode needs beyond the data plane and translation settings. */
export interface ClusterConfig {
  readonly kubeconfig?: string;
  /** Empty means all namespaces. */
  readonly watchNamespaces: readonly string[];
  readonly configMap?: ObjectName;
  readonly publishService?: ObjectName;
  readonly publishStatusAddresses: readonly string[];
  readonly defaultSslCertificate?: ObjectName;
  readonly election: {
    readonly leaseName: string;
    readonly namespace: string;
    /** This replica's identity: $POD_NAME, else the host name. */
    readonly identity: string;
    readonly leaseDurationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
  };
  readonly admission?: {
    readonly host: string;
    readonly port: number;
    readonly certDir: string;
  };
}

/** `L4Config` is the TCP/UDP services configuration (the runtime that applies it is separate). */
export interface L4Config {
  readonly mode: L4Mode;
  /** `--cleanup-on-exit`: kernel modes remove their rules when the process stops. */
  readonly cleanupOnExit: boolean;
  /** `--redirect-privileged-ports`: node ports 80/443 redirected to the HTTP/HTTPS listeners (kernel modes only). */
  readonly redirectPrivilegedPorts?: boolean;
  /** `--l4-full-sync-period`. */
  readonly fullSyncPeriodMs: number;
  readonly tcpServicesConfigMap?: ObjectName;
  readonly udpServicesConfigMap?: ObjectName;
  readonly nodeIp?: string;
}

/** `PorticoConfig` is the whole process configuration. */
export interface PorticoConfig {
  /** The manifests folder (file mode); undefined selects cluster mode. */
  readonly manifests?: string;
  readonly logLevel: string;
  readonly proxy: ProxyOptions;
  readonly translate: TranslateOptions;
  readonly cluster: ClusterConfig;
  readonly l4: L4Config;
}

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly config: PorticoConfig };

/**
 * `parseFlags` parses `argv` (without node and script). Unknown flags, positionals and bad values
 * throw `FlagError` naming the flag.
 */
export function parseFlags(argv: readonly string[]): Command {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.type }])),
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new FlagError(err instanceof Error ? err.message : String(err));
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };
  const get = (name: keyof typeof FLAGS): string => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const d = (FLAGS[name] as FlagSpec).default;
    return d ?? '';
  };
  const at = <T>(name: keyof typeof FLAGS, parse: (raw: string) => T): T => {
    const raw = get(name);
    try {
      return parse(raw);
    } catch (err) {
      throw new FlagError(
        `--${name} ${JSON.stringify(raw)}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };

  const logLevel = at('log-level', (v) => {
    if (!(LOG_LEVELS as readonly string[]).includes(v))
      throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`);
    return v;
  });
  const bindAddress = at('bind-address', (v) => {
    if (isIP(v) === 0) throw new Error('must be an IPv4 or IPv6 address');
    return v;
  });
  const controllerClass = at('controller-class', nonEmpty);
  const ingressClass = at('ingress-class', nonEmpty);
  const defaultBackend =
    values['default-backend-service'] === undefined
      ? undefined
      : at('default-backend-service', parseServiceRef);
  const manifests = values['manifests'] === undefined ? undefined : at('manifests', nonEmpty);

  const proxy: ProxyOptions = {
    bindAddress,
    httpPort: at('http-port', parsePort),
    httpsPort: at('https-port', parsePort),
    adminPort: at('admin-port', parsePort),
    trustedProxies: at('trusted-proxies', parseCidrList),
    upstream: {
      connectTimeoutMs: at('proxy-connect-timeout', positiveDuration),
      readTimeoutMs: at('proxy-read-timeout', positiveDuration),
      sendTimeoutMs: at('proxy-send-timeout', positiveDuration),
      maxTries: at('proxy-next-upstream-tries', (v) => parseInteger(v, 1, 100)),
      maxBodyBytes: at('proxy-body-size', (v) => parsedOrThrow(bodySize(v))),
      nextUpstream: at('proxy-next-upstream', (v) => parsedOrThrow(nextUpstream(v))),
      nextUpstreamTimeoutMs: at('proxy-next-upstream-timeout', (v) => parsedOrThrow(retryBudget(v))),
    },
    client: {
      headerTimeoutMs: at('client-header-timeout', positiveDuration),
      bodyIdleTimeoutMs: at('client-body-timeout', positiveDuration),
      keepAliveTimeoutMs: at('keepalive-timeout', parseDuration),
      maxHeaderBytes: at('max-header-size', (v) => {
        const n = parseSize(v);
        if (n < 1024) throw new Error('must be at least 1k');
        return n;
      }),
    },
    // kube-proxy and load balancers need a few seconds to stop sending to a terminating pod; a
    // local file-mode run has nobody to wait for.
    tls: {
      protocols: at('ssl-protocols', (v) => parsedOrThrow(tlsProtocols(v))),
      ciphers: at('ssl-ciphers', (v) => parsedOrThrow(cipherList(v))),
      sessionCache: at('ssl-session-cache', (v) => parsedOrThrow(parseBoolean(v))),
      sessionCacheBytes: at('ssl-session-cache-size', (v) => parsedOrThrow(nginxSize(v))),
      sessionTimeoutMs: at('ssl-session-timeout', (v) => {
        const ms = parseDuration(v);
        // OpenSSL counts session lifetimes in whole seconds.
        if (ms < 1_000) throw new Error('must be at least 1s');
        return ms;
      }),
      sessionTickets: at('ssl-session-tickets', (v) => parsedOrThrow(parseBoolean(v))),
      http2: at('use-http2', (v) => parsedOrThrow(parseBoolean(v))),
    },
    shutdownDelayMs:
      values['shutdown-delay'] === undefined
        ? manifests === undefined
          ? 5_000
          : 0
        : at('shutdown-delay', parseDuration),
    drainTimeoutMs: at('drain-timeout', parseDuration),
    https: {
      sslRedirect: at('ssl-redirect', (v) => parsedOrThrow(parseBoolean(v))),
      forceSslRedirect: at('force-ssl-redirect', (v) => parsedOrThrow(parseBoolean(v))),
      redirectCode: at('http-redirect-code', parseRedirectCode),
      redirectPort:
        values['https-redirect-port'] === undefined
          ? 443
          : at('https-redirect-port', (v) => parseInteger(v, 1, 65_535)),
      hsts: at('hsts', parseHsts),
    },
    accessLog: at('access-log', nonEmpty),
    policies: {
      ...(values['redis-url'] === undefined ? {} : { redisUrl: at('redis-url', parseRedisUrl) }),
      redisTimeoutMs: at('redis-timeout', positiveDuration),
      replicasHint: at('replicas-hint', (v) => parseInteger(v, 1, 10_000)),
      limitStatus: {
        request: at('limit-req-status-code', (v) => parseInteger(v, 400, 599)),
        connection: at('limit-conn-status-code', (v) => parseInteger(v, 400, 599)),
      },
    },
    proxyProtocol: {
      enabled: at('use-proxy-protocol', (v) => parsedOrThrow(parseBoolean(v))),
      headerTimeoutMs: at('proxy-protocol-header-timeout', positiveDuration),
    },
  };
  const optional = <T>(name: keyof typeof FLAGS, parse: (raw: string) => T): T | undefined =>
    values[name] === undefined ? undefined : at(name, parse);
  const kubeconfig = optional('kubeconfig', nonEmpty);
  const tcpServicesConfigMap = optional('tcp-services-configmap', parseObjectName);
  const udpServicesConfigMap = optional('udp-services-configmap', parseObjectName);
  const nodeIp = optional('node-ip', parseNodeIp);
  const l4Mode = at('l4-mode', parseL4Mode);
  const redirectPrivilegedPorts = values['redirect-privileged-ports'] === true;
  if (redirectPrivilegedPorts && !isKernelMode(l4Mode))
    throw new FlagError(
      `--redirect-privileged-ports needs a kernel --l4-mode (iptables, ipvs or nftables): the redirect is a kernel nat rule, and --l4-mode ${l4Mode} installs no rules`,
    );
  const l4: L4Config = {
    mode: l4Mode,
    cleanupOnExit: values['cleanup-on-exit'] === true,
    redirectPrivilegedPorts,
    fullSyncPeriodMs: at('l4-full-sync-period', positiveDuration),
    ...(tcpServicesConfigMap !== undefined ? { tcpServicesConfigMap } : {}),
    ...(udpServicesConfigMap !== undefined ? { udpServicesConfigMap } : {}),
    ...(nodeIp !== undefined ? { nodeIp } : {}),
  };
  const configMap = optional('configmap', parseObjectName);
  const publishService = optional('publish-service', parseObjectName);
  const defaultSslCertificate = optional('default-ssl-certificate', parseObjectName);
  const admissionListen = optional('admission-listen', parseListenAddress);
  const admissionCertDir = optional('admission-cert-dir', nonEmpty);
  if (admissionListen !== undefined && admissionCertDir === undefined)
    throw new FlagError('--admission-listen needs --admission-cert-dir (the webhook serves HTTPS only)');
  const leaseDurationMs = at('lease-duration', positiveDuration);
  const renewDeadlineMs = at('renew-deadline', positiveDuration);
  const retryPeriodMs = at('retry-period', positiveDuration);
  // client-go's LeaderElector refuses the same combinations: they would let two leaders overlap.
  if (renewDeadlineMs >= leaseDurationMs)
    throw new FlagError('--renew-deadline must be shorter than --lease-duration');
  if (retryPeriodMs >= renewDeadlineMs)
    throw new FlagError('--retry-period must be shorter than --renew-deadline');
  const cluster: ClusterConfig = {
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    watchNamespaces: at('watch-namespace', parseNameList),
    ...(configMap !== undefined ? { configMap } : {}),
    ...(publishService !== undefined ? { publishService } : {}),
    publishStatusAddresses: at('publish-status-address', (v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    ),
    ...(defaultSslCertificate !== undefined ? { defaultSslCertificate } : {}),
    election: {
      leaseName: at('election-id', parseDnsName),
      namespace:
        values['election-namespace'] === undefined
          ? (process.env['POD_NAMESPACE'] ?? 'default')
          : at('election-namespace', parseDnsName),
      identity: process.env['POD_NAME'] ?? hostname(),
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    ...(admissionListen !== undefined && admissionCertDir !== undefined
      ? { admission: { ...admissionListen, certDir: admissionCertDir } }
      : {}),
  };
  return {
    kind: 'run',
    config: {
      ...(manifests !== undefined ? { manifests } : {}),
      logLevel,
      proxy,
      cluster,
      l4,
      translate: {
        controllerClass,
        ingressClass,
        watchIngressWithoutClass: values['watch-ingress-without-class'] === true,
        ...(defaultBackend ? { defaultBackendService: defaultBackend } : {}),
      },
    },
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * `parseDuration` reads a Go-style duration (`500ms`, `5s`, `1m30s`, `1.5h`) into milliseconds. A bare
 * number is refused (is `60` seconds or milliseconds?), except `0`.
 */
export function parseDuration(raw: string): number {
  const v = raw.trim();
  if (v === '0') return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(v)) {
    throw new Error('not a duration; use a number with a unit: ms, s, m or h (e.g. 500ms, 5s, 1m30s)');
  }
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? Number.NaN);
  }
  const ms = Math.round(total);
  // setTimeout overflows past 2^31-1 ms and fires at once; refuse rather than misbehave.
  if (!Number.isFinite(ms) || ms > 2_147_483_647) throw new Error('duration too large (max about 24 days)');
  return ms;
}

// The ConfigMap validators report instead of throwing; a flag error is thrown and named by `at`.
function parsedOrThrow<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

function positiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new Error('must be greater than 0');
  return ms;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
};

/** `parseSize` reads a byte size: bytes, or with a binary unit `k`/`kb`/`m`/`mb` (case-insensitive). */
export function parseSize(raw: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) throw new Error('not a size; use bytes or a unit k or m (e.g. 32k)');
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n > 64 * 1024 ** 2) throw new Error('size too large (max 64m)');
  return n;
}

/** `parsePort` reads a TCP port, 0 (any free port) to 65535. */
export function parsePort(raw: string): number {
  return parseInteger(raw, 0, 65_535);
}

function parseInteger(raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new Error('not an integer');
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`must be between ${min} and ${max}`);
  return n;
}

/** `parseRedirectCode` reads a redirect status ingress-nginx accepts for `http-redirect-code`. */
export function parseRedirectCode(raw: string): RedirectCode {
  const code = REDIRECT_CODES.find((c) => String(c) === raw.trim());
  if (code === undefined) throw new Error(`must be one of ${REDIRECT_CODES.join(', ')}`);
  return code;
}

/**
 * `parseHsts` reads `--hsts`: a Strict-Transport-Security value (`max-age=N`, optionally
 * `includeSubDomains` and `preload`, `;`-separated, directive names case-insensitive as RFC 6797
 * says) or `off`.
 */
export function parseHsts(raw: string): HstsOptions {
  const v = raw.trim();
  if (v === 'off' || v === 'false') {
    return { enabled: false, maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false };
  }
  let maxAge: number | undefined;
  let includeSubdomains = false;
  let preload = false;
  for (const part of v.split(';')) {
    const directive = part.trim();
    const lower = directive.toLowerCase();
    if (directive === '') continue;
    if (lower.startsWith('max-age=')) maxAge = parseInteger(directive.slice(8), 0, 2_147_483_647);
    else if (lower === 'includesubdomains') includeSubdomains = true;
    else if (lower === 'preload') preload = true;
    else
      throw new Error(
        `unknown directive ${JSON.stringify(directive)}; use max-age=SECONDS, includeSubDomains, preload, or off`,
      );
  }
  if (maxAge === undefined) throw new Error('needs max-age=SECONDS (or off)');
  return { enabled: true, maxAgeSeconds: maxAge, includeSubdomains, preload };
}

function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new Error('must not be empty');
  return raw;
}

/** `parseServiceRef` reads `namespace/name:port`, where port is a number or a port name. */
export function parseServiceRef(raw: string): { namespace: string; name: string; port: number | string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9-]+)$/.exec(raw);
  if (!m) throw new Error('must be namespace/name:port, e.g. default/fallback:80 or default/fallback:http');
  const port = m[5] ?? '';
  if (/^\d+$/.test(port))
    return { namespace: m[1] ?? '', name: m[3] ?? '', port: parseInteger(port, 1, 65_535) };
  return { namespace: m[1] ?? '', name: m[3] ?? '', port };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `parseDnsName` reads a Kubernetes object or namespace name (RFC 1123 subdomain, 253 chars at most). */
export function parseDnsName(raw: string): string {
  if (raw.length > 253 || !raw.split('.').every((label) => label.length <= 63 && DNS_LABEL.test(label)))
    throw new Error('must be a lowercase RFC 1123 name, e.g. portico-leader');
  return raw;
}

/** `parseObjectName` reads `namespace/name`. */
export function parseObjectName(raw: string): ObjectName {
  const [namespace = '', name = '', ...rest] = raw.split('/');
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || name === '')
    throw new Error('must be namespace/name, e.g. ingress/portico');
  parseDnsName(name);
  return { namespace, name };
}

/** `parseL4Mode` reads `--l4-mode`. */
export function parseL4Mode(raw: string): L4Mode {
  if (!(L4_MODES as readonly string[]).includes(raw))
    throw new Error(`must be one of ${L4_MODES.join(', ')}`);
  return raw as L4Mode;
}

/** `parseNodeIp` reads `--node-ip`: one IPv4 or IPv6 address, no zone. */
export function parseNodeIp(raw: string): string {
  if (isIP(raw) === 0 || raw.includes('%')) throw new Error(`${JSON.stringify(raw)} is not an IP address`);
  return raw;
}

/** `parseNameList` reads comma-separated namespace names; empty means none. */
export function parseNameList(raw: string): string[] {
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const n of names)
    if (!DNS_LABEL.test(n)) throw new Error(`${JSON.stringify(n)} is not a namespace name`);
  return [...new Set(names)];
}

/** `parseListenAddress` reads `host:port`, `[v6]:port` or `:port` (all addresses). */
export function parseListenAddress(raw: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]*)):(\d+)$/.exec(raw);
  if (!m) throw new Error('must be ADDR:PORT, e.g. 0.0.0.0:8443 or :8443');
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  if (isIP(host) === 0) throw new Error(`${JSON.stringify(host)} is not an IP address`);
  return { host, port: parsePort(m[3] ?? '') };
}

/** `parseCidrList` reads comma-separated CIDRs or bare addresses; empty means none. */
export function parseCidrList(raw: string): string[] {
  const out: string[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [addr = '', prefix, ...rest] = item.split('/');
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const ok =
      family !== 0 &&
      rest.length === 0 &&
      (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= max));
    if (!ok) throw new Error(`${JSON.stringify(item)} is not an IP address or CIDR`);
    out.push(item);
  }
  return out;
}

/** `parseRedisUrl` accepts redis:// and rediss:// URLs with a host. */
function parseRedisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL such as redis://redis.portico.svc:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new Error('must start with redis:// or rediss://');
  if (url.hostname === '') throw new Error('must name a host');
  return raw;
}

/** `helpText` renders `--help` from `FLAGS`. */
export function helpText(): string {
  const lines = [
    'Usage: portico [--manifests DIR | --kubeconfig PATH] [flags]',
    '',
    'Portico is a Kubernetes Ingress controller and layer-7 reverse proxy.',
    'With --manifests it serves a folder of manifests (file mode); without it, it runs in cluster',
    'mode against the Kubernetes API (--kubeconfig, else $KUBECONFIG, else the in-cluster account).',
    'Durations take a unit (500ms, 5s, 1m30s); sizes take bytes or k/m (32k).',
  ];
  const groups = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    const head = `  --${name}${spec.value ? ` ${spec.value}` : ''}`;
    const def = spec.default !== undefined && spec.default !== '' ? ` (default ${spec.default})` : '';
    const list = groups.get(spec.group) ?? [];
    list.push(`${head}\n${wrap(`${spec.doc}${def}`, 6, 100)}`);
    groups.set(spec.group, list);
  }
  for (const [group, entries] of groups) lines.push('', `${group}:`, ...entries);
  lines.push(
    '',
    'Signals: SIGTERM/SIGINT shut down gracefully (--shutdown-delay, then --drain-timeout), exit 0.',
    '',
  );
  return lines.join('\n');
}

function wrap(text: string, indent: number, width: number): string {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && pad.length + line.length + 1 + word.length > width) {
      out.push(pad + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(pad + line);
  return out.join('\n');
}
