/**
 * `use-gzip`: which responses are compressed (nginx's gzip filter with `gzip_proxied any`), how
 * their headers change, and the streaming relay (backpressure, flush per chunk, a complete body).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  acceptsGzip,
  GzipRelay,
  type GzipSettings,
  gzipDecision,
  gzipHeaders,
} from '../../../src/proxy/gzip.js';

const SETTINGS: GzipSettings = {
  level: 1,
  minLength: 256,
  types: new Set(['application/json', 'text/plain']),
};

describe('acceptsGzip', () => {
  const cases: readonly [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['br, gzip;q=0.5', true],
    ['GZIP', true],
    ['x-gzip', true],
    ['*', true],
    ['gzip;q=0', false],
    ['deflate, br', false],
    ['identity', false],
  ];
  for (const [header, want] of cases) {
    test(`${JSON.stringify(header)} → ${want}`, () => assert.equal(acceptsGzip(header), want));
  }
});

describe('gzipDecision', () => {
  const json = ['content-type', 'application/json; charset=utf-8', 'content-length', '1000'];
  const cases: readonly {
    name: string;
    method?: string;
    accept?: string;
    status?: number;
    headers?: readonly string[];
    settings?: GzipSettings;
    want: boolean;
  }[] = [
    { name: 'a listed type the client accepts, long enough', want: true },
    { name: 'no Accept-Encoding', accept: '', want: false },
    { name: 'HEAD', method: 'HEAD', want: false },
    { name: '204', status: 204, want: false },
    { name: '206 (a byte range of the identity body)', status: 206, want: false },
    { name: '304', status: 304, want: false },
    { name: 'a 404 page of a listed type is compressed too', status: 404, want: true },
    {
      name: 'a type not listed',
      headers: ['content-type', 'image/png', 'content-length', '1000'],
      want: false,
    },
    {
      name: 'already encoded',
      headers: [...json, 'Content-Encoding', 'br'],
      want: false,
    },
    {
      name: 'shorter than gzip-min-length',
      headers: ['content-type', 'text/plain', 'content-length', '100'],
      want: false,
    },
    { name: 'no Content-Length (streamed): compressed', headers: ['content-type', 'text/plain'], want: true },
    {
      name: '* compresses every type',
      headers: ['content-type', 'image/png', 'content-length', '1000'],
      settings: { ...SETTINGS, types: new Set(['*']) },
      want: true,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const accept =
        c.accept === undefined
          ? { 'accept-encoding': 'gzip, br' }
          : c.accept === ''
            ? {}
            : { 'accept-encoding': c.accept };
      assert.equal(
        gzipDecision(c.settings ?? SETTINGS, c.method ?? 'GET', accept, c.status ?? 200, c.headers ?? json),
        c.want,
      );
    });
  }
});

describe('gzipHeaders', () => {
  test('drops Content-Length, adds Content-Encoding and Vary, weakens a strong ETag', () => {
    assert.deepEqual(gzipHeaders(['content-type', 'text/plain', 'content-length', '1000', 'ETag', '"abc"']), [
      'content-type',
      'text/plain',
      'ETag',
      'W/"abc"',
      'content-encoding',
      'gzip',
      'vary',
      'Accept-Encoding',
    ]);
  });

  test('adds Accept-Encoding to an existing Vary once; keeps a weak ETag', () => {
    assert.deepEqual(gzipHeaders(['Vary', 'Origin', 'etag', 'W/"x"']), [
      'Vary',
      'Origin, Accept-Encoding',
      'etag',
      'W/"x"',
      'content-encoding',
      'gzip',
    ]);
    assert.deepEqual(gzipHeaders(['vary', 'accept-encoding']), [
      'vary',
      'accept-encoding',
      'content-encoding',
      'gzip',
    ]);
  });
});

/** A sink that accepts `room` writes before asking to wait, like a slow client. */
class SlowSink extends EventEmitter {
  readonly chunks: Buffer[] = [];
  writes = 0;
  constructor(private readonly room: number) {
    super();
  }
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.writes++;
    if (this.writes % this.room === 0) {
      setImmediate(() => this.emit('drain'));
      return false;
    }
    return true;
  }
}

describe('GzipRelay', () => {
  test('every chunk is flushed out before the next arrives (a stream is not held back)', async () => {
    const sink = new SlowSink(1000);
    const relay = new GzipRelay(
      1,
      sink,
      () => undefined,
      () => undefined,
    );
    relay.write(Buffer.from('first line\n'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(sink.chunks.length > 0, 'compressed bytes of the first chunk were written');
    await new Promise<void>((resolve) => relay.end(resolve));
    assert.equal(gunzipSync(Buffer.concat(sink.chunks)).toString(), 'first line\n');
  });

  test('a slow sink pauses the source until the relay says resume, and the whole body arrives intact', async () => {
    const sink = new SlowSink(2);
    let bytes = 0;
    let wake: (() => void) | undefined;
    let resumed = 0;
    const relay = new GzipRelay(
      6,
      sink,
      (n) => {
        bytes += n;
      },
      () => {
        resumed++;
        wake?.();
      },
    );
    const body = Buffer.from('0123456789abcdef'.repeat(64 * 1024));
    let paused = 0;
    for (let at = 0; at < body.length; at += 16 * 1024) {
      if (!relay.write(body.subarray(at, at + 16 * 1024))) {
        // As the upstream does: nothing more until the relay asks for it (bounded wait).
        paused++;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('never resumed')), 5_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    await new Promise<void>((resolve) => relay.end(resolve));
    const out = Buffer.concat(sink.chunks);
    assert.equal(bytes, out.length, 'onBytes counted what went to the sink');
    assert.ok(out.length < body.length / 10, `compressed: ${out.length} of ${body.length}`);
    assert.deepEqual(gunzipSync(out), body);
    assert.ok(paused > 0, 'the source was paused at least once');
    assert.equal(resumed, paused, 'and resumed as often');
  });
});
