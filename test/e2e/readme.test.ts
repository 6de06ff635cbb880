import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, ROOT, serveBin } from '../support/spawn.js';

/** The first fenced `sh` block after the README heading `heading`. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`## ${heading}`);
  expect(at, `README has a "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block).not.toBeNull();
  return block![1]!;
}

/**
 * Runs a README shell block as a user pastes it: `npx keyturn` is the built bin (no npm start-up
 * in a test) and `localhost:8080` the test server's address; everything else is the README's text.
 */
function runReadme(block: string, url: string, dataDir: string, flags = '-euo pipefail'): { status: number | null; stdout: string; stderr: string } {
  const script = block.replaceAll('npx keyturn', 'keyturn').replaceAll('localhost:8080', url);
  // --norc: with pipes on its standard streams bash may believe a remote shell started it and read
  // /etc/bash.bashrc, whose `PS1` use fails under `-u` on some machines (noise on stderr, not the README's).
  const run = spawnSync('bash', ['--norc', ...flags.split(' '), '-c', `keyturn() { node ${JSON.stringify(CLI)} "$@"; }\n${script}`], {
    env: { ...process.env, KEYTURN_URL: url, KEYTURN_DATA_DIR: dataDir },
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('README', () => {
  let server: Awaited<ReturnType<typeof serveBin>>;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyturn-readme-'));
    server = await serveBin(['--data-dir', dataDir]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the tour ends as it says, also when run a second time in the same directory', () => {
    const tour = readmeBlock('A tour: create a key, verify it, revoke it');
    for (const round of [1, 2]) {
      // As pasted into a shell: a step that fails (the principal exists on the second round) does not stop the rest.
      const run = runReadme(tour, server.url, dataDir, '-u');
      const lines = run.stdout.trim().split('\n');
      expect(run.status, `round ${round}: ${run.stderr}`).toBe(1);
      expect(lines.at(-1), `round ${round}`).toBe('invalid: ERR_KEY_REVOKED');
      expect(lines.find((l) => l.startsWith('valid: ')), `round ${round}`).toMatch(/^valid: key_\w+ scopes=read$/);
    }
  }, 180_000); // two rounds of a dozen CLI processes each

  it("the OAuth minute's token is accepted by the README's verifier example", async () => {
    const run = runReadme(readmeBlock('OAuth 2.0 in one minute'), server.url, dataDir);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const answer = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { access_token: string; token_type: string };
    expect(answer.token_type).toBe('Bearer');

    // The verifier as the README configures it (audience and scope from its example).
    const example = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const audience = /audience: '([^']+)'/.exec(example)![1]!;
    const { createVerifier } = (await import(join(ROOT, 'dist', 'verifier', 'index.js'))) as typeof import('../../src/verifier/index.js');
    // Its apiKey, made with the README's own command (the tour made the owner; made here if it did not run).
    const command = /`(npx keyturn keys create [^`]*--scopes verify)`/.exec(example)![1]!;
    const made = runReadme(`npx keyturn principals create --kind service --name billing >/dev/null 2>&1 || true\n${command} --json`, server.url, dataDir);
    expect(made.status, made.stderr).toBe(0);
    const apiKey = (JSON.parse(made.stdout) as { key: string }).key;
    expect(example).toContain('apiKey: process.env.KEYTURN_VERIFIER_KEY');
    const verifier = createVerifier({ url: server.url, apiKey, audience, requiredScopes: ['read'] });
    try {
      expect(await verifier.verifyRequest({ headers: { authorization: `Bearer ${answer.access_token}` } })).toMatchObject({ valid: true, kind: 'jwt', scopes: ['read'] });
      // With the apiKey, the change stream opens (without one, keyturn refuses it).
      await vi.waitFor(() => expect(verifier.stats().stream).toBe('open'), { timeout: 15_000 });
    } finally {
      await verifier.close();
    }
  });
});
