import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCT } from '../../src/audit/sinks/product.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { parseCef } from '../audit/formats-support.js';

describe('keyturn audit tail / export', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startTestServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_TOKEN: kt.adminKey };
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'svc' });
    for (const name of ['a', 'b', 'c']) await kt.api('POST', '/v1/keys', { owner: 'svc', name, scopes: ['read'] });
  });
  afterAll(async () => kt.stop());

  it('tail prints the newest events, oldest first; --type and --json narrow and change the output', async () => {
    const all = (await kt.api('GET', '/v1/events?limit=1000')).body.items as { seq: number; type: string }[];
    const run = await cli(['audit', 'tail', '-n', '2'], env);
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    expect(lines.map((l) => Number(l.trim().split(' ')[0]))).toEqual(all.slice(-2).map((e) => e.seq));
    const typed = await cli(['audit', 'tail', '--type', 'key.created', '--json'], env);
    const events = typed.out.split('\n').map((l) => JSON.parse(l) as { type: string; data: { name: string } });
    expect(events.map((e) => e.data.name)).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['key.created']));
  });

  it('tail --follow prints events recorded after it started', async () => {
    const following = cli(['audit', 'tail', '--follow', '-n', '1', '--type', 'principal.created', '--interval', '50', '--count', '3'], env);
    await new Promise((r) => setTimeout(r, 300));
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'later-1' });
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'later-2' });
    const run = await following;
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('principal.created');
    expect(lines.slice(1).map((l) => /"name":"([^"]+)"/.exec(l)?.[1])).toEqual(['later-1', 'later-2']);
  });

  it('export writes every event in OCSF, CEF or the canonical record; --since limits it', async () => {
    const count = ((await kt.api('GET', '/v1/events?limit=1000')).body.items as unknown[]).length;
    const ocsf = await cli(['audit', 'export', '--format', 'ocsf'], env);
    const objects = ocsf.out.split('\n').map((l) => JSON.parse(l) as { class_uid: number; metadata: { sequence: number } });
    expect(objects.length).toBeGreaterThanOrEqual(count);
    expect(objects.map((o) => o.metadata.sequence)).toEqual(objects.map((_, i) => i + 1));
    const cef = await cli(['audit', 'export', '--format', 'cef', '--type', 'key.created'], env);
    // The bootstrap admin key and the three created here.
    const parsed = cef.out.split('\n').map(parseCef);
    expect(parsed.map((p) => p.header.slice(0, 5))).toEqual(Array(4).fill(['CEF:0', 'keyturn', 'keyturn', PRODUCT.version, 'key.created']));
    const jsonl = await cli(['audit', 'export', '--format', 'jsonl', '--since', '1h'], env);
    expect(JSON.parse(jsonl.out.split('\n')[0]!)).toMatchObject({ seq: 1, category: expect.any(String), severity: expect.any(String) });
    const future = await cli(['audit', 'export', '--format', 'jsonl', '--since', '2999-01-01T00:00:00Z'], env);
    expect([future.code, future.out]).toEqual([0, '']);
  });

  it('bad input: exit 2 with one clear line, nothing printed', async () => {
    for (const args of [
      ['audit', 'export', '--format', 'xml'],
      ['audit', 'export', '--format', 'ocsf', '--since', 'yesterday'],
      ['audit', 'tail', '--type', 'key.exploded'],
      ['audit', 'tail', '-n', '0'],
    ]) {
      const run = await cli(args, env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^keyturn: /);
    }
  });

  it('the product version in the SIEM formats is the package version', () => {
    expect(PRODUCT.version).toBe((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  });
});
