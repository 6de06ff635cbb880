import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBin } from '../support/spawn.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Nothing listens on port 1: a request that gets as far as the network fails with ERR_UPSTREAM, not a usage error. */
const NOWHERE = { KEYTURN_URL: 'http://127.0.0.1:1', KEYTURN_TOKEN: 'kt_live_x' };

/**
 * Every usage error is one `keyturn:` line and exit 2, through the built bin as a user meets it.
 * `scan` exits 1 for findings: a typo in CI must never read as secrets found.
 */
describe('usage errors (built bin)', () => {
  it.each([
    ['a missing argument', ['keys', 'revoke'], /^keyturn: missing required argument 'id'$/],
    ['a missing required option', ['keys', 'create', '--name', 'x'], /^keyturn: required option '--owner <principal>' not specified$/],
    ['an unknown option', ['keys', 'list', '--nme', 'x'], /^keyturn: unknown option '--nme'/],
    ['an unknown scan option', ['scan', '--nope', '.'], /^keyturn: unknown option '--nope'/],
    ['an invalid --format choice', ['scan', '--format', 'xml', '.'], /^keyturn: option '--format <format>' argument 'xml' is invalid/],
    ['--limit abc', ['keys', 'list', '--limit', 'abc'], /^keyturn: --limit: expected a whole number from 1 to 1000/],
    ['--url notaurl', ['keys', 'list', '--url', 'notaurl'], /^keyturn: --url: not an http\(s\) URL/],
    ['a URL without a scheme', ['keys', 'list', '--url', 'localhost:8080'], /^keyturn: --url: not an http\(s\) URL: "localhost:8080"; add the scheme: http:\/\/localhost:8080$/],
    ['serve --port 99999', ['serve', '--port', '99999'], /^keyturn: ERR_CONFIG: configuration: port \(server\.port\): /],
    ['serve --port abc', ['serve', '--port', 'abc'], /^keyturn: ERR_CONFIG: configuration: port \(server\.port\): /],
    ["--scopes 'read write'", ['keys', 'create', '--owner', 'a', '--name', 'b', '--scopes', 'read write'], /^keyturn: --scopes: "read write" is not a scope \(separate scopes with commas: read,write\)$/],
    ["--scopes ''", ['keys', 'create', '--owner', 'a', '--name', 'b', '--scopes', ''], /^keyturn: --scopes: empty list/],
    ['a URL with credentials but no scheme, not echoed', ['keys', 'list', '--url', 'admin:hunter2@keyturn.internal:8080'], /^keyturn: --url: not an http\(s\) URL: "…@keyturn\.internal:8080"$/],
    ['a token with a newline', ['keys', 'list', '--token', 'kt_live_a\nb'], /^keyturn: --token: the token contains a line break/],
    ['an oversized token', ['keys', 'list', '--token', 'a'.repeat(5000)], /^keyturn: --token: the token is 5000 characters long/],
  ])('%s', async (_what, args, message) => {
    const run = await runBin(args, NOWHERE);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(message);
  });

  it('a reachable-looking request that fails on the network is not a usage error', async () => {
    const run = await runBin(['keys', 'list'], NOWHERE);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^keyturn: ERR_UPSTREAM: cannot reach keyturn at http:\/\/127\.0\.0\.1:1/);
  });

  it('a port in use is ERR_ADDRESS_IN_USE with a --port hint', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-usage-'));
    dirs.push(dataDir);
    try {
      const run = await runBin(['serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'silent']);
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toBe(`keyturn: ERR_ADDRESS_IN_USE: 127.0.0.1:${port} is already in use (another keyturn running?); pick another with --port`);
    } finally {
      taken.close();
    }
  });

  it('a data directory that cannot be made says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-usage-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'file'), 'not a directory');
    const run = await runBin(['serve', '--port', '0', '--data-dir', join(dir, 'file', 'data'), '--log-level', 'silent']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`keyturn: ERR_FILESYSTEM: cannot mkdir ${join(dir, 'file', 'data')}: not a directory`);
  });
});
