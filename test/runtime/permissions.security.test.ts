import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigFlags } from '../../src/config/schema.js';
import { createLogger } from '../../src/runtime/logger.js';
import { makePrivateDir } from '../../src/runtime/permissions.js';
import { startServer } from '../../src/runtime/serve.js';

/**
 * Issue 9, item 10: the data directory was created 0755 and the database 0644, so every user of the
 * machine could copy the digests, the sealed signing keys and the event log.
 */

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fresh parent directory; keyturn's data directory is `<parent>/data`, not created yet. */
function parent(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-perm-'));
  dirs.push(dir);
  return dir;
}

async function start(flags: ConfigFlags, logs?: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs?.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return startServer(loadConfig({ flags: { port: 0, logLevel: 'warn', ...flags } }), { logger: createLogger('warn', sink) });
}

describe.skipIf(process.platform === 'win32')('files only their owner can read', () => {
  it.each([0o000, 0o022, 0o277])('creates the data directory 0700 and every file 0600 under umask %o', async (umask) => {
    const dataDir = join(parent(), 'data');
    const before = process.umask(umask);
    let server: Awaited<ReturnType<typeof start>>;
    try {
      server = await start({ dataDir });
    } finally {
      process.umask(before);
    }
    try {
      // A write, so the WAL and shared-memory files exist.
      await server.kt.principals.count();
      const db = join(dataDir, 'keyturn.db');
      expect({
        dir: mode(dataDir),
        db: mode(db),
        wal: mode(`${db}-wal`),
        shm: mode(`${db}-shm`),
        lock: mode(`${db}.lock`),
      }).toEqual({ dir: '0700', db: '0600', wal: '0600', shm: '0600', lock: '0600' });
      // The key files are written once and only read: 0600, or 0400 under a umask that takes the owner's write bit.
      for (const key of ['master.key', 'admin.key']) expect(['0600', '0400']).toContain(mode(join(dataDir, key)));
    } finally {
      await server.close();
    }
  });

  it('refuses to start on a directory or a database others can read, naming the chmod that fixes it', async () => {
    const dataDir = join(parent(), 'data');
    await (await start({ dataDir })).close();
    const db = join(dataDir, 'keyturn.db');

    chmodSync(dataDir, 0o755);
    await expect(start({ dataDir })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining(`chmod 700 '${dataDir}'`) });
    chmodSync(dataDir, 0o700);

    chmodSync(db, 0o644);
    await expect(start({ dataDir })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(new RegExp(`${db} \\(0644\\).*chmod 600 '${db}'.*--allow-loose-permissions`)) });

    chmodSync(join(dataDir, 'master.key'), 0o640);
    await expect(start({ dataDir })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('master.key (0640)') });
  });

  it('starts with allowLoosePermissions, and warns', async () => {
    const dataDir = join(parent(), 'data');
    await (await start({ dataDir })).close();
    chmodSync(dataDir, 0o750);
    const logs: Record<string, unknown>[] = [];
    const server = await start({ dataDir, allowLoosePermissions: 'true' }, logs);
    await server.close();
    expect(logs).toContainEqual(expect.objectContaining({ msg: expect.stringContaining('other users can read keyturn files'), files: [{ path: dataDir, mode: '0750', want: '0700' }] }));
  });

  it('makePrivateDir gives every directory it creates 0700, and leaves an existing one alone', () => {
    const top = parent();
    chmodSync(top, 0o755);
    const before = process.umask(0o000);
    try {
      makePrivateDir(join(top, 'a', 'b'));
    } finally {
      process.umask(before);
    }
    expect([mode(top), mode(join(top, 'a')), mode(join(top, 'a', 'b'))]).toEqual(['0755', '0700', '0700']);
  });
});
