import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseStatus } from '../../../src/proxy/websocket.js';

const cases: { name: string; head: string; status: number }[] = [
  { name: 'a switch to WebSocket is 101', head: 'HTTP/1.1 101 Switching Protocols\r\n\r\n', status: 101 },
  {
    name: 'a refusal keeps its status',
    head: 'HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n',
    status: 403,
  },
  { name: 'an HTTP/1.0 answer is read the same way', head: 'HTTP/1.0 400 Bad Request\r\n\r\n', status: 400 },
  { name: 'bytes that are not an HTTP response count as 502', head: 'SSH-2.0-OpenSSH_9.2\r\n', status: 502 },
  { name: 'a head cut before its status counts as 502', head: 'HTTP/1.1 1', status: 502 },
  { name: 'a status that is not a number counts as 502', head: 'HTTP/1.1 abc Nope\r\n\r\n', status: 502 },
];
for (const c of cases) {
  test(`responseStatus: ${c.name}`, () => {
    assert.equal(responseStatus(Buffer.from(c.head, 'latin1')), c.status);
  });
}
