import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { manualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { REPORT_RECEIVED } from '../../src/http/routes/leaks.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { Fake } from './support/corpus.js';
import { dumpDatabase, startLeakServer } from './support/server.js';

const fake = new Fake(9001);

async function report(url: string, body: unknown): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${url}/v1/leaks/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describeStore('public leak reports', (kind) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  const ctx = manualContext(new Date());

  beforeAll(async () => {
    ({ server, stop } = await startLeakServer(kind, { leakReportRate: 5 }, ctx));
  });
  afterAll(async () => stop());

  it('answers the same for a live key, a revoked one, a foreign one and junk, and acts only on the live one', async () => {
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'shop' });
    const live = (await server.api('POST', '/v1/keys', { owner: 'shop', name: 'live' })).body as { id: string; key: string };
    const dead = (await server.api('POST', '/v1/keys', { owner: 'shop', name: 'dead' })).body as { id: string; key: string };
    await server.api('POST', `/v1/keys/${dead.id}/revoke`, {});
    const answers = [
      await report(server.url, { token: live.key, url: 'https://paste.example/abc' }),
      await report(server.url, { token: dead.key }),
      await report(server.url, [{ token: fake.keyturn('kt_live') }, { token: 'not a token at all' }]),
    ];
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(JSON.parse(a.text)).toEqual(REPORT_RECEIVED);
      expect(a.headers.get('cache-control')).toBe('no-store');
    }
    await server.kt.leaks.response.idle();
    expect((await server.api('POST', '/v1/keys/verify', { key: live.key }, null)).body.code).toBe('ERR_KEY_SUSPENDED');
    const findings = (await server.api('GET', '/v1/leaks/findings')).body.items as { keyId: string; status: string; id: string }[];
    expect(findings.map((f) => `${f.keyId}:${f.status}`).sort()).toEqual([`${dead.id}:inactive`, `${live.id}:suspended`].sort());
    const liveFinding = findings.find((f) => f.keyId === live.id)!;
    const places = (await server.api('GET', `/v1/leaks/findings/${liveFinding.id}`)).body.places as Record<string, unknown>[];
    expect(places).toEqual([expect.objectContaining({ via: 'report', untrustedUrl: 'hxxps://paste[.]example/abc' })]);
    // nothing about the foreign token or the junk was kept
    const dump = await dumpDatabase(server);
    expect(dump).not.toContain('not a token at all');
    expect(dump).not.toContain(live.key.slice(8, 40));
  });

  it('rejects malformed reports with 400 and rate-limits each address (429 ERR_RATE_LIMITED with Retry-After)', async () => {
    ctx.advance(120_000); // a full bucket
    const bad = await report(server.url, { tok: 'x' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).code).toBe('ERR_VALIDATION');
    const statuses: number[] = [];
    let limited: { status: number; text: string; headers: Headers } | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await report(server.url, { token: `junk-${i}` });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    // 5 per minute: the malformed one counted too
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429]);
    expect(JSON.parse(limited!.text)).toMatchObject({ code: 'ERR_RATE_LIMITED', error: 'too_many_requests' });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    ctx.advance(12_000); // one token back
    expect((await report(server.url, { token: 'again' })).status).toBe(202);
    expect((await report(server.url, { token: 'again' })).status).toBe(429);
  });
});

describe('secrets stay out of the logs', () => {
  let running: RunningServer;
  let dataDir: string;
  let logs = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyturn-leaklog-'));
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => (logs += chunk.toString('utf8')));
    const config = loadConfig({ flags: { dataDir, port: 0, logLevel: 'trace', logRequests: true } });
    running = await startServer(config, { logger: createLogger('trace', sink) });
  });
  afterAll(async () => {
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs requests to the leak endpoints without the tokens in them', async () => {
    const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
    const auth = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
    await fetch(`${running.url}/v1/principals`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'service', name: 'logged' }) });
    const created = (await (await fetch(`${running.url}/v1/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ owner: 'logged', name: 'k' }) })).json()) as {
      key: string;
    };
    await report(running.url, { token: created.key, url: 'https://paste.example/1' });
    await running.kt.leaks.response.idle();
    await fetch(`${running.url}/v1/leaks/findings`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify([{ fingerprint: secretDigest(created.key), kind: 'keyturn', rule: 'keyturn-secret', match: created.key }]),
    });
    expect(logs).toContain('/v1/leaks/report');
    expect(logs).not.toContain(created.key.slice(8, 40));
    expect(logs).not.toContain(adminKey.slice(8, 40));
  });
});
