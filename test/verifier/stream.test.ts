import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type StreamState, type Verifier } from '../../src/verifier/index.js';
import { SseParser, type SseEvent } from '../../src/verifier/stream.js';
import { recordingFetch, startFixture, waitFor, type Fixture } from './support.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx.stop();
});

const open: Verifier[] = [];
afterAll(async () => {
  await Promise.all(open.map((v) => v.close()));
});
function verifier(options: Partial<Parameters<typeof createVerifier>[0]> = {}) {
  const v = createVerifier({ url: fx.url, apiKey: fx.streamKey, reconnectMinMs: 20, reconnectMaxMs: 100, ...options });
  open.push(v);
  return v;
}

describe('change stream', () => {
  it('drops a revoked key from the cache as soon as the event arrives', async () => {
    const { id, key } = await fx.createKey();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, cacheTtlMs: 3_600_000 });
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    expect((await v.verify(key)).valid).toBe(true);
    expect((await v.verify(key)).valid).toBe(true);
    expect(rec.verifyCalls()).toBe(1);
    await fx.revoke(id);
    // The TTL is an hour: only the stream can empty the cache within the poll.
    await waitFor(() => v.stats().cacheSize === 0, 5_000, 'cache entry dropped');
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
    expect(rec.verifyCalls()).toBe(2);
  });

  it('keeps other keys cached when one key changes', async () => {
    const a = await fx.createKey();
    const b = await fx.createKey();
    const v = verifier();
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    await v.verify(a.key);
    await v.verify(b.key);
    expect(v.stats().cacheSize).toBe(2);
    await fx.revoke(a.id);
    await waitFor(() => v.stats().cacheSize === 1, 5_000, 'one entry dropped');
    expect((await v.verify(b.key)).valid).toBe(true);
    expect(v.stats().upstreamRequests).toBe(2);
  });

  it('clears everything on reset', async () => {
    const a = await fx.createKey();
    const b = await fx.createKey();
    const v = verifier();
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    await v.verify(a.key);
    await v.verify(b.key);
    expect(v.stats().cacheSize).toBe(2);
    await fx.reset();
    await waitFor(() => v.stats().cacheSize === 0, 5_000, 'cache cleared');
  });

  it('does not cache an answer that raced with a revocation', async () => {
    const { id, key } = await fx.createKey();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith('/verify')) await gate;
      return res;
    };
    const v = verifier({ fetch: slow });
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    const pending = v.verify(key);
    await waitFor(() => v.stats().upstreamRequests === 1, 5_000, 'request sent');
    await fx.revoke(id);
    // The revocation event arrives while the "valid" answer is held back.
    await waitFor(() => v.stats().invalidations === 1, 5_000, 'revocation event');
    release();
    expect((await pending).valid).toBe(true);
    expect(v.stats().cacheSize).toBe(0);
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  it('with the stream down, honours a revocation within cacheTtlMs (and not later)', async () => {
    const { id, key } = await fx.createKey();
    let now = 5_000_000;
    const states: StreamState[] = [];
    const rec = recordingFetch({ fail: (url) => url.endsWith('/changes') });
    const v = verifier({ fetch: rec.fetch, cacheTtlMs: 10_000, now: () => now, onStreamState: (s) => states.push(s) });
    await waitFor(() => rec.streamCalls() >= 2, 5_000, 'reconnect attempts');
    expect(v.stats().stream).toBe('down');
    expect((await v.verify(key)).valid).toBe(true);
    await fx.revoke(id);
    now += 9_999;
    // Within the TTL the cached answer may still be served: that is the documented bound.
    expect((await v.verify(key)).valid).toBe(true);
    now += 1;
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
    expect(states.slice(0, 2)).toEqual(['connecting', 'down']);
  });

  it('reconnects with backoff after the stream is cut, and drops what it may have missed', async () => {
    const { id, key } = await fx.createKey();
    let cutting = false;
    const rec = recordingFetch({ fail: (url) => cutting && url.endsWith('/changes') });
    const v = verifier({ fetch: rec.fetch, cacheTtlMs: 3_600_000 });
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    expect((await v.verify(key)).valid).toBe(true);
    cutting = true;
    rec.cutStreams();
    await waitFor(() => v.stats().stream === 'down', 5_000, 'stream down');
    await fx.revoke(id); // the event is lost: nobody is listening
    expect(v.stats().cacheSize).toBe(1);
    await waitFor(() => rec.streamCalls() >= 3, 5_000, 'retries');
    cutting = false;
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream reopened');
    expect(v.stats().streamConnects).toBe(2);
    expect(v.stats().cacheSize).toBe(0);
    expect(await v.verify(key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  it('stream: false never opens the stream', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, stream: false });
    expect(v.stats().stream).toBe('off');
    await v.close();
    expect(rec.streamCalls()).toBe(0);
  });

  it('without apiKey keeps the stream off (the server would refuse it), and stream: true without one is a configuration error', async () => {
    const rec = recordingFetch();
    const v = createVerifier({ url: fx.url, fetch: rec.fetch });
    open.push(v);
    const { key } = await fx.createKey();
    expect((await v.verify(key)).valid).toBe(true);
    expect(v.stats().stream).toBe('off');
    expect(rec.streamCalls()).toBe(0);
    expect(() => createVerifier({ url: fx.url, stream: true })).toThrow(/apiKey/);
    expect(() => createVerifier({ url: fx.url, apiKey: 'kt_live_x\r\nx-injected: 1' })).toThrow(/apiKey/);
  });

  it('with a key lacking scope verify: refused (403), the stream stays down and verification still works', async () => {
    const { key } = await fx.createKey(); // scope read only
    const rec = recordingFetch();
    const states: StreamState[] = [];
    const v = verifier({ fetch: rec.fetch, apiKey: key, onStreamState: (s) => states.push(s) });
    await waitFor(() => rec.streamCalls() >= 2, 5_000, 'reconnect attempts');
    expect(v.stats().stream).toBe('down');
    expect(states).not.toContain('open');
    expect((await v.verify(key)).valid).toBe(true);
  });

  it('close() ends the stream', async () => {
    const v = verifier();
    await waitFor(() => v.stats().stream === 'open', 5_000, 'stream open');
    await v.close();
    expect(v.stats().stream).toBe('off');
  });
});

describe('SseParser', () => {
  const parse = (...chunks: string[]) => {
    const events: SseEvent[] = [];
    const p = new SseParser((e) => events.push(e));
    for (const c of chunks) p.push(c);
    return events;
  };

  it('parses events, comments and multi-line data across chunk boundaries and line endings', () => {
    expect(
      parse('event: ready\ndata: {"heartbeatMs":15000}\n\n: ping\n\nev', 'ent: changed\r\ndata: {"keyId":', '"key_1"}\r', '\n\r\ndata: a\ndata: b\n\n'),
    ).toEqual([
      { event: 'ready', data: '{"heartbeatMs":15000}' },
      { event: 'changed', data: '{"keyId":"key_1"}' },
      { event: 'message', data: 'a\nb' },
    ]);
  });

  it('refuses an endless line', () => {
    const p = new SseParser(() => undefined);
    expect(() => p.push('data: ' + 'x'.repeat(70_000))).toThrow(RangeError);
  });
});
