/**
 * First run #10 item 1, as the user met it, through the built binary: the server keeps its data
 * in `.keyturn/` inside the working directory; `keyturn scan . --respond` and a watch of `.` find
 * and act on a real leaked key there, but never read the server's own data directory (and say
 * so), so the operator is not locked out. When an admin key is suspended all the same, admin
 * commands say so (ERR_KEY_SUSPENDED, with the key id) and `keyturn admin recover` mints a new
 * admin key from the data directory, while the server runs and while it is stopped.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBin, serveBin } from '../support/spawn.js';

const work = mkdtempSync(join(tmpdir(), 'keyturn-lockout-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('scanning the working directory does not lock the operator out; admin recover gets back in', () => {
  it('scan --respond and watch run skip .keyturn/, a suspended admin key says so, recover works running and stopped', async () => {
    const dataDir = join(work, '.keyturn');
    let server = await serveBin(['--data-dir', dataDir]);
    const env = { KEYTURN_URL: server.url, KEYTURN_DATA_DIR: dataDir };
    try {
      const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
      expect((await runBin(['principals', 'create', '--kind', 'service', '--name', 'app'], env)).code).toBe(0);
      const leaked = JSON.parse((await runBin(['keys', 'create', '--owner', 'app', '--name', 'ci', '--json'], env)).stdout) as { id: string; key: string };
      mkdirSync(join(work, 'src'));
      writeFileSync(join(work, 'src', 'config.env'), `APP_KEY=${leaked.key}\n`);

      // scan . --respond: the real leak is suspended, the data directory is skipped, and said so.
      const scan = await runBin(['scan', work, '--respond'], env);
      expect(scan.code).toBe(1);
      expect(scan.stderr).toContain(`keyturn scan: skipped ${dataDir}: a keyturn data directory`);
      expect(scan.stdout).toContain(`suspended  key ${leaked.id}`);
      expect(scan.stdout).not.toContain('admin.key');
      // Without the data directory named, its marker alone keeps the scan out.
      const byMarker = await runBin(['scan', work, '--format', 'json'], { KEYTURN_DATA_DIR: join(work, 'elsewhere') });
      expect(byMarker.stderr).toContain(`skipped ${dataDir}`);
      expect((JSON.parse(byMarker.stdout) as { file: string }[]).map((f) => f.file)).toEqual(['src/config.env']);

      // A watch of the working directory, run by the server: the same.
      const watch = JSON.parse((await runBin(['watch', 'add', work, '--every', '1h', '--json'], env)).stdout) as { id: string };
      const run = await runBin(['watch', 'run', watch.id], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`skipped keyturn data directory ${dataDir}`);

      // The operator is not locked out.
      expect((await runBin(['keys', 'list'], env)).code).toBe(0);

      // Suspended anyway (by hand here): admin commands say what happened and how back in.
      const adminId = (JSON.parse((await runBin(['keys', 'list', '--owner', 'bootstrap-admin', '--json'], env)).stdout) as { items: { id: string }[] }).items[0]!.id;
      expect((await runBin(['keys', 'suspend', adminId], env)).code).toBe(0);
      const locked = await runBin(['keys', 'list'], env);
      expect(locked.code).toBe(1);
      expect(locked.stderr.trim()).toMatch(new RegExp(`^keyturn: ERR_KEY_SUSPENDED: key ${adminId} is suspended .*keyturn admin recover`));

      // Recover while the server runs (it holds the SQLite lock; recover opens the file beside it).
      const recovered = await runBin(['admin', 'recover', '--data-dir', dataDir]);
      expect(recovered.code).toBe(0);
      expect(recovered.stdout).toMatch(new RegExp(`^new admin key key_\\S+ written to ${join(dataDir, 'admin.key').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\); the file it replaced is kept as `));
      expect(statSync(join(dataDir, 'admin.key')).mode & 0o777).toBe(0o600);
      const newKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
      expect(newKey).not.toBe(adminKey);
      expect(recovered.stdout).not.toContain(newKey.slice(8));
      expect((await runBin(['keys', 'unsuspend', adminId], env)).code).toBe(0);
      const events = await fetch(`${server.url}/v1/events?type=admin.recovered`, { headers: { authorization: `Bearer ${newKey}` } });
      expect(((await events.json()) as { items: { type: string; actor: string | null }[] }).items).toEqual([expect.objectContaining({ type: 'admin.recovered', actor: null })]);

      // Recover while the server is stopped; it starts again on the same files afterwards.
      await server.stop();
      const offline = await runBin(['admin', 'recover'], { KEYTURN_DATA_DIR: dataDir });
      expect(offline.code).toBe(0);
      server = await serveBin(['--data-dir', dataDir]);
      expect((await runBin(['keys', 'list'], { KEYTURN_URL: server.url, KEYTURN_DATA_DIR: dataDir })).code).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('refuses a data directory without a database, with one line', async () => {
    const run = await runBin(['admin', 'recover', '--data-dir', join(work, 'nothing-here')]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^keyturn: ERR_NOT_FOUND: no keyturn database at /);
  });
});
