import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeGrpcStatus } from '../../../src/proxy/forward.js';

const cases: readonly {
  name: string;
  headers: string[];
  rest: string[];
  taken: Record<string, string> | undefined;
}[] = [
  {
    name: 'an ordinary response keeps its headers',
    headers: ['content-type', 'application/grpc', 'x-a', '1'],
    rest: ['content-type', 'application/grpc', 'x-a', '1'],
    taken: undefined,
  },
  {
    name: 'a trailers-only answer gives up its status fields',
    headers: ['content-type', 'application/grpc', 'grpc-status', '5', 'grpc-message', 'no such thing'],
    rest: ['content-type', 'application/grpc'],
    taken: { 'grpc-status': '5', 'grpc-message': 'no such thing' },
  },
  {
    name: 'grpc-message alone is not a status: untouched',
    headers: ['grpc-message', 'x'],
    rest: ['grpc-message', 'x'],
    taken: undefined,
  },
  {
    name: 'names are matched case-insensitively; details go too',
    headers: ['Grpc-Status', '3', 'grpc-status-details-bin', 'AAA', 'server', 'portico'],
    rest: ['server', 'portico'],
    taken: { 'grpc-status': '3', 'grpc-status-details-bin': 'AAA' },
  },
];

for (const c of cases) {
  test(`takeGrpcStatus: ${c.name}`, () => {
    const headers = [...c.headers];
    assert.deepEqual(takeGrpcStatus(headers), c.taken);
    assert.deepEqual(headers, c.rest);
  });
}
