import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classifyUpstreamError,
  DEFAULT_UPSTREAM_ERROR,
  errorCodeOf,
  NO_ENDPOINTS,
  SEND_TIMEOUT,
  UPSTREAM_ERROR_TABLE,
} from '../../../src/proxy/upstream-errors.js';

function errWith(code: string): Error {
  return Object.assign(new Error(code), { code });
}

const cases = [
  {
    name: 'an untrusted backend certificate is 502, nothing sent',
    err: errWith('DEPTH_ZERO_SELF_SIGNED_CERT'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_TLS',
  },
  {
    name: 'a backend certificate for another name is 502',
    err: errWith('ERR_TLS_CERT_ALTNAME_INVALID'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_TLS',
  },
  {
    name: 'a certificate signed by an unknown CA is 502',
    err: errWith('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_TLS',
  },
  {
    name: 'a failed TLS handshake (backend speaks plain HTTP) is 502',
    err: errWith('ERR_SSL_WRONG_VERSION_NUMBER'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_TLS',
  },
  {
    name: 'connection refused is 502 and retryable for any method',
    err: errWith('ECONNREFUSED'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
  },
  {
    name: 'connection reset is 502',
    err: errWith('ECONNRESET'),
    status: 502,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_RESET',
  },
  {
    name: 'a broken pipe is 502',
    err: errWith('EPIPE'),
    status: 502,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_RESET',
  },
  {
    name: "undici's socket error (other side closed) is 502",
    err: errWith('UND_ERR_SOCKET'),
    status: 502,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_RESET',
  },
  {
    name: 'host unreachable is 502',
    err: errWith('EHOSTUNREACH'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
  },
  {
    name: 'connect timeout is 504',
    err: errWith('UND_ERR_CONNECT_TIMEOUT'),
    status: 504,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
  },
  {
    name: 'a kernel connect timeout is 504',
    err: errWith('ETIMEDOUT'),
    status: 504,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
  },
  {
    name: 'response headers timeout is 504',
    err: errWith('UND_ERR_HEADERS_TIMEOUT'),
    status: 504,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_TIMEOUT',
  },
  {
    name: 'response body timeout is 504',
    err: errWith('UND_ERR_BODY_TIMEOUT'),
    status: 504,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_TIMEOUT',
  },
  {
    name: 'request send timeout is 504',
    err: errWith(SEND_TIMEOUT),
    status: 504,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT',
  },
  {
    name: 'no ready endpoints is 503',
    err: NO_ENDPOINTS,
    status: 503,
    phase: 'connect',
    code: 'PORTICO_ERR_NO_ENDPOINTS',
  },
  {
    name: 'a DNS failure is 503',
    err: errWith('ENOTFOUND'),
    status: 503,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_DNS',
  },
  {
    name: 'a closed pool (endpoint removed) is 502 and nothing was sent',
    err: errWith('UND_ERR_CLOSED'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CLOSED',
  },
  {
    name: 'an HTTP parser error is 502',
    err: errWith('HPE_INVALID_HEADER_TOKEN'),
    status: 502,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM_PROTOCOL',
  },
  {
    name: 'a header undici refuses is 400',
    err: errWith('UND_ERR_INVALID_ARG'),
    status: 400,
    phase: 'connect',
    code: 'PORTICO_ERR_BAD_REQUEST',
  },
  {
    name: 'an unknown error is 502',
    err: new Error('boom'),
    status: 502,
    phase: 'exchange',
    code: 'PORTICO_ERR_UPSTREAM',
  },
  { name: 'a non-error value is 502', err: 42, status: 502, phase: 'exchange', code: 'PORTICO_ERR_UPSTREAM' },
  {
    name: 'the code of a cause counts',
    err: Object.assign(new Error('wrapped'), { cause: errWith('ECONNREFUSED') }),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
  },
  {
    name: 'the first code of an AggregateError counts (happy eyeballs)',
    err: new AggregateError([errWith('ECONNREFUSED'), errWith('ECONNREFUSED')], 'all failed'),
    status: 502,
    phase: 'connect',
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
  },
] as const;

for (const c of cases) {
  test(`upstream error: ${c.name}`, () => {
    const row = classifyUpstreamError(c.err);
    assert.equal(row.status, c.status);
    assert.equal(row.phase, c.phase);
    assert.equal(row.code, c.code);
  });
}

test('upstream error table: every row is reachable by its own code and has a body text', () => {
  const seen = new Set<string>();
  for (const row of UPSTREAM_ERROR_TABLE) {
    assert.ok(!seen.has(row.errorCode), `duplicate row ${row.errorCode}`);
    seen.add(row.errorCode);
    assert.equal(classifyUpstreamError(row.errorCode), row);
    assert.ok(row.what.length > 0);
    assert.ok([400, 502, 503, 504].includes(row.status));
  }
  assert.equal(classifyUpstreamError('SOMETHING_ELSE'), DEFAULT_UPSTREAM_ERROR);
});

test('errorCodeOf returns the empty string for values without a code', () => {
  assert.equal(errorCodeOf(undefined), '');
  assert.equal(errorCodeOf(new Error('x')), '');
  assert.equal(errorCodeOf({ code: 7 }), '');
});
