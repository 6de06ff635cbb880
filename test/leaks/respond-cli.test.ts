import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { secretDigest } from '../../src/core/secret.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { Fake } from './support/corpus.js';
import { scanCli, tempDir, writeTree } from './support/fixtures.js';

const fake = new Fake(31337);

const scan = scanCli;

describe('keyturn scan --respond', () => {
  let server: TestServer;
  let dir: string;
  let key: { id: string; key: string };
  const github = fake.githubClassic();

  beforeAll(async () => {
    server = await startTestServer();
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'payments' });
    key = (await server.api('POST', '/v1/keys', { owner: 'payments', name: 'prod' })).body;
    dir = tempDir();
    writeTree(dir, { 'deploy/.env': `PAYMENTS_KEY=${key.key}\n`, 'ci.yml': `env:\n  GH_TOKEN: ${github}\n`, 'docs/notes.md': `old key: ${key.key}\n` });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  it('sends fingerprints and places (never a secret), suspends the leaked key and says what was done', async () => {
    // What the CLI sends, seen on the wire: a recording proxy in front of the server.
    const sent: string[] = [];
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        sent.push(body.toString('utf8'));
        const upstream = http.request(`${server.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    let result: Awaited<ReturnType<typeof scan>>;
    try {
      result = await scan([dir, '--respond', '--url', via, '--token', server.adminKey]);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
    const { code, out } = result;
    expect(code).toBe(1);
    expect(out).toContain('respond: 2 secrets sent to');
    expect(out).toContain('1 suspended, 0 revoked, 1 third-party recorded, 0 already reported');
    expect(out).toMatch(new RegExp(`suspended {2}key ${key.id} {2}deploy/\\.env:1`));
    expect(out).toContain('(third-party: reported, not acted on)');
    expect(sent).toHaveLength(1);
    const body = JSON.parse(sent[0]!) as { source: string; findings: Record<string, unknown>[] };
    expect(body.source).toBe(dir);
    expect(body.findings.map((f) => f.fingerprint)).toContain(secretDigest(key.key));
    // A third-party secret is sent as an HMAC under the scan's key, never as a plain hash.
    expect(body.findings.map((f) => f.fingerprint)).not.toContain(secretDigest(github));
    expect(body.findings.every((f) => !('match' in f))).toBe(true);
    expect(sent[0]).not.toContain(key.key.slice(8, 40));
    expect(sent[0]).not.toContain(github.slice(4));

    expect((await server.api('POST', '/v1/keys/verify', { key: key.key }, null)).body.code).toBe('ERR_KEY_SUSPENDED');
    const findings = (await server.api('GET', '/v1/leaks/findings')).body.items as { id: string; keyId: string | null; sightings: number }[];
    const ours = findings.find((f) => f.keyId === key.id)!;
    expect(ours.sightings).toBe(2);
    const places = (await server.api('GET', `/v1/leaks/findings/${ours.id}`)).body.places as { file: string; source: string }[];
    expect(places.map((p) => p.file).sort()).toEqual(['deploy/.env', 'docs/notes.md']);
  });

  it('keeps JSON output clean (the summary goes to stderr) and reports a second run as already reported', async () => {
    const { code, out, err } = await scan([dir, '--format', 'json', '--respond', '--url', server.url, '--token', server.adminKey]);
    expect(code).toBe(1);
    expect(JSON.parse(out)).toHaveLength(3);
    expect(err).toContain('0 suspended, 0 revoked, 0 third-party recorded, 2 already reported');
  });

  it('finds the admin key in --data-dir like other client commands', async () => {
    const { code, out } = await scan([dir, '--respond', '--url', server.url, '--data-dir', server.dataDir]);
    expect(code).toBe(1);
    expect(out).toContain('2 already reported');
  });

  it('exits 2 with one line when the server cannot be reached or refuses the token', async () => {
    const down = await scan([dir, '--respond', '--url', 'http://127.0.0.1:9', '--token', server.adminKey]);
    expect(down.code).toBe(2);
    expect(down.err).toMatch(/^keyturn scan: ERR_UPSTREAM: cannot reach keyturn/);
    const refused = await scan([dir, '--respond', '--url', server.url, '--token', fake.keyturn('kt_live')]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^keyturn scan: ERR_INVALID_TOKEN/);
  });
});
