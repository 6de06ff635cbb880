import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, prettyLine } from '../../src/runtime/logger.js';
import { runBin, serveBin } from '../support/spawn.js';

describe('clean output on Node 20 (built bin)', () => {
  it('an S3 scan that cannot reach its endpoint prints one line, with no AWS SDK Node version warning in front', async () => {
    const run = await runBin(['scan', 's3://bucket/prefix', '--s3-endpoint', 'http://127.0.0.1:1'], {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(/^keyturn scan: ERR_UPSTREAM: S3 scan of bucket failed/);
  });
});

describe('start-up output in one format (first run #10 item 7)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'keyturn-output-'));
    dirs.push(d);
    return d;
  };

  it('not on a terminal: JSON lines only, the bootstrap admin key announced once, nothing on stderr', async () => {
    const dir = dataDir();
    const server = await serveBin(['--data-dir', dir]);
    await server.stop();
    const lines = server.stdout().trim().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(entries.filter((e) => e.msg.includes('bootstrap admin key'))).toEqual([
      expect.objectContaining({ level: 30, msg: `bootstrap admin key written to ${join(dir, 'admin.key')} (mode 0600)` }),
    ]);
    expect(entries.map((e) => e.msg)).toContain(`keyturn listening on ${server.url} (SQLite)`);
    expect(server.stderr()).toBe('');
  });

  it('--log-format pretty: one human-readable line each, no JSON', async () => {
    const dir = dataDir();
    const server = await serveBin(['--data-dir', dir, '--log-format', 'pretty']);
    await server.stop();
    const lines = server.stdout().trim().split('\n');
    expect(lines.filter((l) => l.includes('bootstrap admin key'))).toEqual([
      expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d info  bootstrap admin key written to ${join(dir, 'admin.key').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\) file=`)),
    ]);
    expect(lines.some((l) => l.includes(`info  keyturn listening on ${server.url} (SQLite) url=${server.url} store=SQLite`))).toBe(true);
    for (const line of lines) expect(line.startsWith('{')).toBe(false);
  });

  it('auto: pretty on a terminal, JSON elsewhere; pretty lines are redacted like JSON ones', () => {
    const written: string[] = [];
    const sink = (isTTY: boolean) => Object.assign(new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) }), { isTTY });
    createLogger('info', sink(true), 'auto').info({ token: 'kt_live_secret', user: 'ann marie' }, 'hello');
    createLogger('info', sink(false), 'auto').info('hello');
    expect(written[0]).toMatch(/^\d\d:\d\d:\d\d info  hello token=\[REDACTED\] user="ann marie"\n$/);
    expect(JSON.parse(written[1]!)).toMatchObject({ level: 30, msg: 'hello' });
    expect(prettyLine('not json')).toBe('not json\n');
  });
});
