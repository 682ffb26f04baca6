import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FLAGS,
  FlagError,
  helpText,
  parseCidrList,
  parseDuration,
  parseFlags,
  parseHsts,
  parseServiceRef,
  parseSize,
} from '../../../src/cli/flags.js';
import { DEFAULT_TLS_SETTINGS } from '../../../src/model/settings/tls.js';

describe('parseDuration', () => {
  const cases = [
    { name: 'seconds', raw: '5s', want: 5_000 },
    { name: 'milliseconds', raw: '500ms', want: 500 },
    { name: 'minutes', raw: '1m', want: 60_000 },
    { name: 'compound minutes and seconds', raw: '1m30s', want: 90_000 },
    { name: 'fractional hours', raw: '1.5h', want: 5_400_000 },
    { name: 'bare zero', raw: '0', want: 0 },
    { name: 'zero with unit', raw: '0s', want: 0 },
  ] as const;
  for (const c of cases) {
    test(`${c.name}: ${c.raw} is ${c.want} ms`, () => assert.equal(parseDuration(c.raw), c.want));
  }
  const bad = ['60', '5 s', 's', '-1s', '5sec', '', '1d', '999999h'] as const;
  for (const raw of bad) {
    test(`${JSON.stringify(raw)} is refused`, () => assert.throws(() => parseDuration(raw)));
  }
});

describe('parseSize', () => {
  const cases = [
    { raw: '1024', want: 1024 },
    { raw: '32k', want: 32 * 1024 },
    { raw: '32K', want: 32 * 1024 },
    { raw: '16kb', want: 16 * 1024 },
    { raw: '1m', want: 1024 * 1024 },
  ] as const;
  for (const c of cases) test(`${c.raw} is ${c.want} bytes`, () => assert.equal(parseSize(c.raw), c.want));
  for (const raw of ['32x', 'k', '-1k', '1g', '100m']) {
    test(`${raw} is refused`, () => assert.throws(() => parseSize(raw)));
  }
});

describe('parseServiceRef and parseCidrList', () => {
  test('a numeric port is a number', () =>
    assert.deepEqual(parseServiceRef('ns/fallback:80'), { namespace: 'ns', name: 'fallback', port: 80 }));
  test('a named port stays a string', () =>
    assert.deepEqual(parseServiceRef('ns/fallback:http'), {
      namespace: 'ns',
      name: 'fallback',
      port: 'http',
    }));
  for (const raw of ['fallback:80', 'ns/fallback', 'ns/Fallback:80', 'ns/fallback:0', 'ns/fallback:70000']) {
    test(`service ref ${raw} is refused`, () => assert.throws(() => parseServiceRef(raw)));
  }
  test('CIDRs and addresses are accepted, blanks skipped', () =>
    assert.deepEqual(parseCidrList('10.0.0.0/8, 127.0.0.1,,::1/128'), [
      '10.0.0.0/8',
      '127.0.0.1',
      '::1/128',
    ]));
  for (const raw of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::1/129']) {
    test(`CIDR list ${raw} is refused`, () => assert.throws(() => parseCidrList(raw)));
  }
});

describe('parseFlags', () => {
  test('defaults match the documented ones', () => {
    const cmd = parseFlags(['--manifests', 'dir']);
    assert.equal(cmd.kind, 'run');
    if (cmd.kind !== 'run') return;
    const { config } = cmd;
    assert.equal(config.manifests, 'dir');
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.translate, {
      controllerClass: 'portico.dev/ingress-controller',
      ingressClass: 'portico',
      watchIngressWithoutClass: false,
    });
    assert.deepEqual(config.proxy, {
      bindAddress: '0.0.0.0',
      httpPort: 80,
      httpsPort: 443,
      adminPort: 10254,
      trustedProxies: [],
      policies: { redisTimeoutMs: 50, replicasHint: 1, limitStatus: { request: 503, connection: 503 } },
      upstream: {
        connectTimeoutMs: 5_000,
        readTimeoutMs: 60_000,
        sendTimeoutMs: 60_000,
        maxTries: 3,
        maxBodyBytes: 1024 * 1024,
        nextUpstream: ['error', 'timeout', 'invalid_header'],
        nextUpstreamTimeoutMs: 0,
      },
      client: {
        headerTimeoutMs: 60_000,
        bodyIdleTimeoutMs: 60_000,
        keepAliveTimeoutMs: 75_000,
        maxHeaderBytes: 32768,
      },
      // ingress-nginx's ssl-* and use-http2 defaults.
      tls: DEFAULT_TLS_SETTINGS,
      shutdownDelayMs: 0,
      drainTimeoutMs: 20_000,
      https: {
        sslRedirect: true,
        forceSslRedirect: false,
        redirectCode: 308,
        redirectPort: 443,
        hsts: { enabled: true, maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false },
      },
      accessLog: 'stdout',
      proxyProtocol: { enabled: false, headerTimeoutMs: 5_000 },
    });
  });

  test('redirect and HSTS flags', () => {
    const cmd = parseFlags([
      '--manifests=m',
      '--ssl-redirect=false',
      '--force-ssl-redirect',
      'true',
      '--http-redirect-code=301',
      '--https-redirect-port=8443',
      '--hsts=max-age=600; preload',
    ]);
    if (cmd.kind !== 'run') return assert.fail('expected run');
    assert.deepEqual(cmd.config.proxy.https, {
      sslRedirect: false,
      forceSslRedirect: true,
      redirectCode: 301,
      redirectPort: 8443,
      hsts: { enabled: true, maxAgeSeconds: 600, includeSubdomains: false, preload: true },
    });
  });

  test('every flag is set from the command line', () => {
    const cmd = parseFlags([
      '--manifests=m',
      '--http-port=0',
      '--https-port',
      '8443',
      '--admin-port=0',
      '--bind-address=127.0.0.1',
      '--controller-class=x/y',
      '--ingress-class=other',
      '--watch-ingress-without-class',
      '--default-backend-service=ns/fb:http',
      '--trusted-proxies=10.0.0.0/8',
      '--proxy-connect-timeout=1s',
      '--proxy-read-timeout=2s',
      '--proxy-send-timeout=3s',
      '--proxy-next-upstream-tries=1',
      '--proxy-body-size=8m',
      '--proxy-next-upstream=error http_503',
      '--proxy-next-upstream-timeout=10',
      '--client-header-timeout=4s',
      '--client-body-timeout=5s',
      '--keepalive-timeout=0',
      '--max-header-size=16k',
      '--shutdown-delay=2s',
      '--drain-timeout=500ms',
      '--log-level=debug',
      '--ssl-protocols=TLSv1.3',
      '--ssl-ciphers=ECDHE-RSA-AES256-GCM-SHA384',
      '--ssl-session-cache=false',
      '--ssl-session-cache-size=512k',
      '--ssl-session-timeout=1m30s',
      '--ssl-session-tickets=true',
      '--use-http2=false',
      '--use-proxy-protocol=true',
      '--proxy-protocol-header-timeout=2s',
    ]);
    assert.equal(cmd.kind, 'run');
    if (cmd.kind !== 'run') return;
    const { proxy, translate, logLevel } = cmd.config;
    assert.equal(logLevel, 'debug');
    assert.deepEqual(translate, {
      controllerClass: 'x/y',
      ingressClass: 'other',
      watchIngressWithoutClass: true,
      defaultBackendService: { namespace: 'ns', name: 'fb', port: 'http' },
    });
    assert.equal(proxy.httpPort, 0);
    assert.equal(proxy.httpsPort, 8443);
    assert.equal(proxy.bindAddress, '127.0.0.1');
    assert.deepEqual(proxy.trustedProxies, ['10.0.0.0/8']);
    assert.deepEqual(proxy.upstream, {
      connectTimeoutMs: 1000,
      readTimeoutMs: 2000,
      sendTimeoutMs: 3000,
      maxTries: 1,
      maxBodyBytes: 8 * 1024 * 1024,
      nextUpstream: ['error', 'http_503'],
      nextUpstreamTimeoutMs: 10_000,
    });
    assert.deepEqual(proxy.client, {
      headerTimeoutMs: 4000,
      bodyIdleTimeoutMs: 5000,
      keepAliveTimeoutMs: 0,
      maxHeaderBytes: 16384,
    });
    assert.equal(proxy.shutdownDelayMs, 2000);
    assert.equal(proxy.drainTimeoutMs, 500);
    assert.deepEqual(proxy.tls, {
      protocols: ['TLSv1.3'],
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      sessionCache: false,
      sessionCacheBytes: 512 * 1024,
      sessionTimeoutMs: 90_000,
      sessionTickets: true,
      http2: false,
    });
    assert.deepEqual(proxy.proxyProtocol, { enabled: true, headerTimeoutMs: 2_000 });
  });

  test('without --manifests the config selects cluster mode', () => {
    const cmd = parseFlags([]);
    assert.equal(cmd.kind, 'run');
    if (cmd.kind === 'run') assert.equal(cmd.config.manifests, undefined);
  });

  test('--help and --version win over other flags', () => {
    assert.deepEqual(parseFlags(['--manifests', 'x', '--help']), { kind: 'help' });
    assert.deepEqual(parseFlags(['--version']), { kind: 'version' });
  });

  const errors = [
    { name: 'unknown flag', argv: ['--nope'], match: /nope/ },
    { name: 'positional argument', argv: ['dir'], match: /dir/ },
    {
      name: 'port out of range',
      argv: ['--http-port', '70000'],
      match: /--http-port "70000": must be between 0 and 65535/,
    },
    { name: 'port not a number', argv: ['--admin-port', 'abc'], match: /--admin-port "abc": not an integer/ },
    {
      name: 'duration without unit',
      argv: ['--proxy-read-timeout', '60'],
      match: /--proxy-read-timeout "60"/,
    },
    { name: 'zero connect timeout', argv: ['--proxy-connect-timeout', '0'], match: /greater than 0/ },
    { name: 'zero tries', argv: ['--proxy-next-upstream-tries', '0'], match: /between 1 and 100/ },
    { name: 'a body size in an unknown unit', argv: ['--proxy-body-size', '15r'], match: /must be a size/ },
    {
      name: 'an unknown next-upstream word',
      argv: ['--proxy-next-upstream', 'error http_501'],
      match: /unknown condition "http_501"/,
    },
    { name: 'bad size', argv: ['--max-header-size', '32q'], match: /--max-header-size/ },
    { name: 'tiny header size', argv: ['--max-header-size', '10'], match: /at least 1k/ },
    { name: 'bad bind address', argv: ['--bind-address', 'localhost'], match: /IPv4 or IPv6/ },
    { name: 'bad log level', argv: ['--log-level', 'loud'], match: /one of/ },
    { name: 'bad default backend', argv: ['--default-backend-service', 'x'], match: /namespace\/name:port/ },
    { name: 'empty ingress class', argv: ['--ingress-class', ''], match: /must not be empty/ },
    { name: 'redirect code 303', argv: ['--http-redirect-code', '303'], match: /301, 302, 307, 308/ },
    {
      name: 'ssl-redirect yes',
      argv: ['--ssl-redirect', 'yes'],
      match: /--ssl-redirect "yes": must be "true" or "false"/,
    },
    { name: 'redirect port 0', argv: ['--https-redirect-port', '0'], match: /between 1 and 65535/ },
    { name: 'hsts without max-age', argv: ['--hsts', 'includeSubDomains'], match: /needs max-age/ },
    { name: 'hsts unknown directive', argv: ['--hsts', 'max-age=1; foo'], match: /unknown directive "foo"/ },
    { name: 'hsts negative max-age', argv: ['--hsts', 'max-age=-1'], match: /--hsts/ },
    {
      name: 'a deprecated TLS version',
      argv: ['--ssl-protocols', 'TLSv1.1 TLSv1.2'],
      match: /--ssl-protocols "TLSv1.1 TLSv1.2": TLSv1.1 is not supported \(deprecated by RFC 8996\)/,
    },
    {
      name: 'a TLS 1.3 suite in ssl-ciphers',
      argv: ['--ssl-ciphers', 'TLS_AES_128_GCM_SHA256'],
      match: /TLS 1.3 suite/,
    },
    {
      name: 'a session timeout below a second',
      argv: ['--ssl-session-timeout', '500ms'],
      match: /at least 1s/,
    },
    {
      name: 'use-http2 not a boolean',
      argv: ['--use-http2', 'maybe'],
      match: /--use-http2 "maybe": must be "true" or "false"/,
    },
    {
      name: 'a redis URL of another scheme',
      argv: ['--redis-url', 'http://r:6379'],
      match: /--redis-url .*redis:\/\/ or rediss:\/\//,
    },
    { name: 'a redis URL that is not one', argv: ['--redis-url', 'r:6379x'], match: /--redis-url/ },
    { name: 'replicas-hint 0', argv: ['--replicas-hint', '0'], match: /--replicas-hint/ },
    {
      name: 'a limit status outside 400-599',
      argv: ['--limit-req-status-code', '200'],
      match: /--limit-req-status-code/,
    },
    {
      name: 'use-proxy-protocol not a boolean',
      argv: ['--use-proxy-protocol', 'on'],
      match: /--use-proxy-protocol "on": must be "true" or "false"/,
    },
    {
      name: 'zero PROXY header timeout',
      argv: ['--proxy-protocol-header-timeout', '0s'],
      match: /--proxy-protocol-header-timeout "0s": must be greater than 0/,
    },
    {
      name: 'boolean flag given a value',
      argv: ['--watch-ingress-without-class=yes'],
      match: /watch-ingress/,
    },
  ] as const;
  for (const c of errors) {
    test(`${c.name} is a FlagError`, () => {
      assert.throws(
        () => parseFlags(c.argv),
        (err: unknown) => err instanceof FlagError && c.match.test(err.message),
      );
    });
  }
});

test('--help documents every flag', () => {
  const help = helpText();
  for (const name of Object.keys(FLAGS)) assert.match(help, new RegExp(`--${name}\\b`), name);
});

describe('parseHsts', () => {
  const cases = [
    [
      'max-age=31536000; includeSubDomains',
      { enabled: true, maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false },
    ],
    [
      'MAX-AGE=5;INCLUDESUBDOMAINS;Preload',
      { enabled: true, maxAgeSeconds: 5, includeSubdomains: true, preload: true },
    ],
    ['max-age=0', { enabled: true, maxAgeSeconds: 0, includeSubdomains: false, preload: false }],
    ['off', { enabled: false, maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false }],
  ] as const;
  for (const [raw, want] of cases) test(raw, () => assert.deepEqual(parseHsts(raw), want));
});
