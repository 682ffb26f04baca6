/**
 * ingress-nginx annotation list — DATA FILE, edit only to follow ingress-nginx's documentation.
 *
 * Tag:    controller-v1.15.1 (kubernetes/ingress-nginx, the last release line before retirement)
 * Page:   docs/user-guide/nginx-configuration/annotations.md (the table AND every
 *         `nginx.ingress.kubernetes.io/<name>` the body text names)
 *
 * How the list was established (the tagged blob itself could not be fetched by tag here):
 * - Base: annotations.md at commit c8cb9167d3bfe6a2ed50796e179b3aec648a7e16, the version of the
 *   page the source index addresses (it has denylist-source-range, auth-tls-match-cn,
 *   auth-keepalive*, enable-opentelemetry, mirror-host, session-cookie-domain; the tagged blob was
 *   not retrievable by tag): its whole table and body were read.
 * - changelog/controller-1.15.0.md and controller-1.15.1.md (v1.14.0 → v1.15.1) add or remove no
 *   annotation; their doc changes only reword existing sections (regex paths #14336,
 *   `proxy-request-buffering` values #14532, `proxy-cookie-domain` validation #14536).
 * - The base predates the tag: the published page of the v1.1x line lists
 *   `auth-keepalive-share-vars` in its table (added after the base commit), so it is added here.
 * - docs/user-guide/nginx-configuration/annotations-risk.md (commit 03c5ce57, generated from the
 *   v1.1x parsers) names the annotations the controller reads that the base page mentions only in
 *   examples or not at all (session-cookie-max-age, temporal-redirect-code, custom-headers, …).
 *   They are kept too (`source: 'controller'`): the tagged page may name some of them, a report
 *   calling them unknown to ingress-nginx would be wrong, and extra rows cost nothing.
 * Removed modules (InfluxDB, OpenTracing) stay: the page still names them, and Ingresses still carry them.
 *
 * `section` is the page's heading the annotation belongs to (for controller-only rows, the
 * heading of its group). The migration document and `portico migrate-check` read this list; the
 * status of each annotation is computed from Portico's family tables, never written here.
 */

/** `DocSource` says where the page names an annotation. */
export type DocSource = 'table' | 'body' | 'controller';

/** `IngressNginxAnnotation` is one row: the name without prefix, its section, where it is named. */
export interface IngressNginxAnnotation {
  readonly name: string;
  readonly section: string;
  readonly source: DocSource;
}

export const INGRESS_NGINX_TAG = 'controller-v1.15.1';
export const INGRESS_NGINX_DOC_PATH = 'docs/user-guide/nginx-configuration/annotations.md';
export const INGRESS_NGINX_DOC_COMMIT = 'c8cb9167d3bfe6a2ed50796e179b3aec648a7e16';
export const INGRESS_NGINX_PREFIX = 'nginx.ingress.kubernetes.io';

type Row = readonly [name: string, section: string];
const rows = (source: DocSource, list: readonly Row[]): IngressNginxAnnotation[] =>
  list.map(([name, section]) => ({ name, section, source }));

const TABLE: readonly Row[] = [
  ['app-root', 'Rewrite'],
  ['affinity', 'Session Affinity'],
  ['affinity-mode', 'Session Affinity'],
  ['affinity-canary-behavior', 'Session Affinity'],
  ['auth-realm', 'Authentication'],
  ['auth-secret', 'Authentication'],
  ['auth-secret-type', 'Authentication'],
  ['auth-type', 'Authentication'],
  ['auth-tls-secret', 'Client Certificate Authentication'],
  ['auth-tls-verify-depth', 'Client Certificate Authentication'],
  ['auth-tls-verify-client', 'Client Certificate Authentication'],
  ['auth-tls-error-page', 'Client Certificate Authentication'],
  ['auth-tls-pass-certificate-to-upstream', 'Client Certificate Authentication'],
  ['auth-tls-match-cn', 'Client Certificate Authentication'],
  ['auth-url', 'External Authentication'],
  ['auth-cache-key', 'External Authentication'],
  ['auth-cache-duration', 'External Authentication'],
  ['auth-keepalive', 'External Authentication'],
  ['auth-keepalive-share-vars', 'External Authentication'],
  ['auth-keepalive-requests', 'External Authentication'],
  ['auth-keepalive-timeout', 'External Authentication'],
  ['auth-proxy-set-headers', 'External Authentication'],
  ['auth-snippet', 'External Authentication'],
  ['enable-global-auth', 'External Authentication'],
  ['backend-protocol', 'Backend Protocol'],
  ['canary', 'Canary'],
  ['canary-by-header', 'Canary'],
  ['canary-by-header-value', 'Canary'],
  ['canary-by-header-pattern', 'Canary'],
  ['canary-by-cookie', 'Canary'],
  ['canary-weight', 'Canary'],
  ['canary-weight-total', 'Canary'],
  ['client-body-buffer-size', 'Client Body Buffer Size'],
  ['configuration-snippet', 'Configuration snippet'],
  ['custom-http-errors', 'Custom HTTP Errors'],
  ['default-backend', 'Default Backend'],
  ['enable-cors', 'Enable CORS'],
  ['cors-allow-origin', 'Enable CORS'],
  ['cors-allow-methods', 'Enable CORS'],
  ['cors-allow-headers', 'Enable CORS'],
  ['cors-expose-headers', 'Enable CORS'],
  ['cors-allow-credentials', 'Enable CORS'],
  ['cors-max-age', 'Enable CORS'],
  ['force-ssl-redirect', 'Server-side HTTPS enforcement through redirect'],
  ['from-to-www-redirect', 'Redirect from/to www'],
  ['http2-push-preload', 'HTTP2 Push Preload'],
  ['limit-connections', 'Rate Limiting'],
  ['limit-rps', 'Rate Limiting'],
  ['global-rate-limit', 'Global Rate Limiting'],
  ['global-rate-limit-window', 'Global Rate Limiting'],
  ['global-rate-limit-key', 'Global Rate Limiting'],
  ['global-rate-limit-ignored-cidrs', 'Global Rate Limiting'],
  ['permanent-redirect', 'Permanent Redirect'],
  ['permanent-redirect-code', 'Permanent Redirect Code'],
  ['temporal-redirect', 'Temporal Redirect'],
  ['preserve-trailing-slash', 'Server-side HTTPS enforcement through redirect'],
  ['proxy-body-size', 'Custom max body size'],
  ['proxy-cookie-domain', 'Proxy cookie domain'],
  ['proxy-cookie-path', 'Proxy cookie path'],
  ['proxy-connect-timeout', 'Custom timeouts'],
  ['proxy-send-timeout', 'Custom timeouts'],
  ['proxy-read-timeout', 'Custom timeouts'],
  ['proxy-next-upstream', 'Custom timeouts'],
  ['proxy-next-upstream-timeout', 'Custom timeouts'],
  ['proxy-next-upstream-tries', 'Custom timeouts'],
  ['proxy-request-buffering', 'Custom timeouts'],
  ['proxy-redirect-from', 'Proxy redirect'],
  ['proxy-redirect-to', 'Proxy redirect'],
  ['proxy-http-version', 'Proxy HTTP version'],
  ['proxy-ssl-secret', 'Backend Certificate Authentication'],
  ['proxy-ssl-ciphers', 'Backend Certificate Authentication'],
  ['proxy-ssl-name', 'Backend Certificate Authentication'],
  ['proxy-ssl-protocols', 'Backend Certificate Authentication'],
  ['proxy-ssl-verify', 'Backend Certificate Authentication'],
  ['proxy-ssl-verify-depth', 'Backend Certificate Authentication'],
  ['proxy-ssl-server-name', 'Backend Certificate Authentication'],
  ['enable-rewrite-log', 'Enable Rewrite Log'],
  ['rewrite-target', 'Rewrite'],
  ['satisfy', 'Satisfy'],
  ['server-alias', 'Server Alias'],
  ['server-snippet', 'Server snippet'],
  ['service-upstream', 'Service Upstream'],
  ['session-cookie-name', 'Cookie affinity'],
  ['session-cookie-path', 'Cookie affinity'],
  ['session-cookie-domain', 'Cookie affinity'],
  ['session-cookie-change-on-failure', 'Cookie affinity'],
  ['session-cookie-samesite', 'Cookie affinity'],
  ['session-cookie-conditional-samesite-none', 'Cookie affinity'],
  ['ssl-redirect', 'Server-side HTTPS enforcement through redirect'],
  ['ssl-passthrough', 'SSL Passthrough'],
  ['stream-snippet', 'Stream snippet'],
  ['upstream-hash-by', 'Custom NGINX upstream hashing'],
  ['x-forwarded-prefix', 'X-Forwarded-Prefix Header'],
  ['load-balance', 'Custom NGINX load balancing'],
  ['upstream-vhost', 'Custom NGINX upstream vhost'],
  ['denylist-source-range', 'Denylist source range'],
  ['whitelist-source-range', 'Whitelist source range'],
  ['proxy-buffering', 'Proxy buffering'],
  ['proxy-buffers-number', 'Proxy buffers Number'],
  ['proxy-buffer-size', 'Proxy buffer size'],
  ['proxy-max-temp-file-size', 'Proxy max temp file size'],
  ['ssl-ciphers', 'SSL ciphers'],
  ['ssl-prefer-server-ciphers', 'SSL ciphers'],
  ['connection-proxy-header', 'Connection proxy header'],
  ['enable-access-log', 'Enable Access Log'],
  ['enable-opentracing', 'Enable Opentracing'],
  ['opentracing-trust-incoming-span', 'Opentracing Trust Incoming Span'],
  ['enable-opentelemetry', 'Enable Opentelemetry'],
  ['opentelemetry-trust-incoming-span', 'Opentelemetry Trust Incoming Span'],
  ['enable-influxdb', 'InfluxDB'],
  ['influxdb-measurement', 'InfluxDB'],
  ['influxdb-port', 'InfluxDB'],
  ['influxdb-host', 'InfluxDB'],
  ['influxdb-server-name', 'InfluxDB'],
  ['use-regex', 'Use Regex'],
  ['enable-modsecurity', 'ModSecurity'],
  ['enable-owasp-core-rules', 'ModSecurity'],
  ['modsecurity-transaction-id', 'ModSecurity'],
  ['modsecurity-snippet', 'ModSecurity'],
  ['mirror-request-body', 'Mirror'],
  ['mirror-target', 'Mirror'],
  ['mirror-host', 'Mirror'],
];

/** Named in the body text only. */
const BODY: readonly Row[] = [
  ['upstream-hash-by-subset', 'Custom NGINX upstream hashing'],
  ['upstream-hash-by-subset-size', 'Custom NGINX upstream hashing'],
  ['auth-method', 'External Authentication'],
  ['auth-signin', 'External Authentication'],
  ['auth-signin-redirect-param', 'External Authentication'],
  ['auth-response-headers', 'External Authentication'],
  ['auth-request-redirect', 'External Authentication'],
  ['auth-always-set-cookie', 'External Authentication'],
  ['limit-rpm', 'Rate Limiting'],
  ['limit-burst-multiplier', 'Rate Limiting'],
  ['limit-rate-after', 'Rate Limiting'],
  ['limit-rate', 'Rate Limiting'],
  ['limit-whitelist', 'Rate Limiting'],
  // The body's example spells it with an "s"; the controller reads the table's spelling.
  ['opentelemetry-trust-incoming-spans', 'Opentelemetry Trust Incoming Span'],
];

/** Read by the controller of this release line (annotations-risk.md), not named on the page above. */
const CONTROLLER: readonly Row[] = [
  ['allowlist-source-range', 'Whitelist source range'],
  ['limit-allowlist', 'Rate Limiting'],
  ['custom-headers', 'Custom Headers'],
  ['disable-proxy-intercept-errors', 'Custom HTTP Errors'],
  ['fastcgi-index', 'FastCGI'],
  ['fastcgi-params-configmap', 'FastCGI'],
  ['opentelemetry-operation-name', 'Enable Opentelemetry'],
  ['session-cookie-expires', 'Cookie affinity'],
  ['session-cookie-max-age', 'Cookie affinity'],
  ['session-cookie-partitioned', 'Cookie affinity'],
  ['session-cookie-secure', 'Cookie affinity'],
  ['temporal-redirect-code', 'Temporal Redirect'],
  ['use-port-in-redirects', 'Server-side HTTPS enforcement through redirect'],
];

/** `INGRESS_NGINX_ANNOTATIONS`: every row, table order first, then body, then controller-only. */
export const INGRESS_NGINX_ANNOTATIONS: readonly IngressNginxAnnotation[] = Object.freeze([
  ...rows('table', TABLE),
  ...rows('body', BODY),
  ...rows('controller', CONTROLLER),
]);
