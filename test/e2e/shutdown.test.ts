/**
 * First run #10 item 2: `SIGTERM` (or `SIGINT`) stops the real built server while a verifier
 * follows the change stream, a raw client holds another stream and an idle keep-alive connection
 * is open. The process exits by itself (code 0), releases the SQLite file (a second server starts
 * on the same data directory and port) and the verifier follows whatever serves next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ROOT, runBin, serveBin } from '../support/spawn.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A raw `GET /v1/keys/changes` held open: resolves once `ready` arrived; `ended` when the server ends it. */
function holdStream(url: string, apiKey: string): Promise<{ ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/v1/keys/changes`, { headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('error', () => done());
        res.on('close', done);
      });
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('event: ready')) resolve({ ended });
      });
    });
    req.on('error', reject);
  });
}

/** A finished request whose keep-alive connection stays open and idle. */
async function idleKeepAlive(url: string): Promise<http.Agent> {
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    http.get(`${url}/healthz`, { agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  return agent;
}

describe('keyturn serve shuts down on a signal while change streams are open', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s: streams end, the process exits 0 and frees the data directory for the next server', async (signal) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-shutdown-'));
    dirs.push(dataDir);
    const port = await freePort();
    // The drain deadline is far past the test's timeout: only ending the streams at once lets it pass.
    const first = await serveBin(['--data-dir', dataDir, '--port', String(port), '--shutdown-timeout', '5m']);
    const env = { KEYTURN_DATA_DIR: dataDir, KEYTURN_URL: first.url };
    const { createVerifier } = (await import(join(ROOT, 'dist', 'verifier', 'index.js'))) as typeof import('../../src/verifier/index.js');
    expect((await runBin(['principals', 'create', '--kind', 'service', '--name', 'api'], env)).code).toBe(0);
    // The change stream needs a key with scope `verify`.
    const streamKey = (JSON.parse((await runBin(['keys', 'create', '--owner', 'api', '--name', 'stream', '--scopes', 'verify', '--json'], env)).stdout) as { key: string }).key;
    const verifier = createVerifier({ url: first.url, apiKey: streamKey, cacheTtlMs: 3_600_000, reconnectMinMs: 50, reconnectMaxMs: 200 });
    let agent: http.Agent | undefined;
    let second: Awaited<ReturnType<typeof serveBin>> | undefined;
    try {
      const created = JSON.parse((await runBin(['keys', 'create', '--owner', 'api', '--name', 'k', '--json'], env)).stdout) as { id: string; key: string };
      expect(await verifier.verify(created.key)).toMatchObject({ valid: true }); // cached for an hour
      await vi.waitFor(() => expect(verifier.stats().stream).toBe('open'));
      const raw = await holdStream(first.url, streamKey);
      agent = await idleKeepAlive(first.url);

      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        first.child.once('exit', (code, sig) => resolve({ code, signal: sig })),
      );
      first.child.kill(signal);
      // Bounded by the test's timeout: before the fix, the process lived on holding the stream.
      expect(await exited).toEqual({ code: 0, signal: null });
      await raw.ended;
      expect(first.stdout()).toContain(`${signal}: shutting down`);

      // The SQLite lock is free: a second server starts on the same data directory and port.
      second = await serveBin(['--data-dir', dataDir, '--port', String(port)]);
      expect(second.url).toBe(first.url);
      // The verifier reconnected to it and hears its revocations.
      await vi.waitFor(() => expect(verifier.stats().streamConnects).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
      expect((await runBin(['keys', 'revoke', created.id], env)).code).toBe(0);
      await vi.waitFor(async () => expect(await verifier.verify(created.key)).toMatchObject({ valid: false, code: 'ERR_KEY_REVOKED' }), { timeout: 5000 });
    } finally {
      agent?.destroy();
      await verifier.close();
      await first.stop();
      await second?.stop();
    }
  });
});
