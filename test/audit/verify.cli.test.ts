/**
 * `keyturn audit verify` (issue 12 item 8) on a deployment's own database: exit 0 only when the log
 * is intact, 1 naming the first damaged record after rows were edited, deleted or reordered
 * directly in SQLite or PostgreSQL; a third party verifies with the verifier key alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SYSTEM } from '../../src/audit/events.js';
import { logKeyFromMaster } from '../../src/audit/log.js';
import { loadConfig } from '../../src/config/load.js';
import { openKeyturn, type Keyturn } from '../../src/runtime/open.js';
import { cli } from '../support/cli.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

describeStore('keyturn audit verify', (kind) => {
  let handle: StoreHandle;
  let dir: string;
  let kt: Keyturn | undefined;
  const env = (): NodeJS.ProcessEnv => ({ KEYTURN_DATA_DIR: dir, KEYTURN_DB: handle.db });

  beforeEach(async () => {
    handle = await freshStore(kind);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-verify-'));
    kt = await openKeyturn(loadConfig({ flags: { dataDir: dir, db: handle.db } }));
    const owner = await kt.principals.create({ kind: 'service', name: 'billing' }, SYSTEM);
    for (let i = 0; i < 4; i++) await kt.keys.create({ owner: owner.id, name: `k${i}`, scopes: ['read'] }, SYSTEM);
    await kt.auditLog.checkpoint();
    await kt.principals.create({ kind: 'service', name: 'after-checkpoint' }, SYSTEM);
    await kt.close();
    kt = undefined;
  });
  afterEach(async () => {
    await kt?.close();
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an intact log exits 0; the verifier key alone is enough; a kept checkpoint is reproduced', async () => {
    const ok = await cli(['audit', 'verify'], env());
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^audit log keyturn\/audit\/[0-9a-f]{16} intact: 7 records \(seq 1–7\), 1 signed checkpoints, sealed through tree size 5, 2 not sealed yet$/);
    const vkey = (await cli(['audit', 'vkey'], env())).out;
    expect(vkey).toMatch(/^keyturn\/audit\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{43,}=*$/);
    // The kept checkpoint: the note of the audit.checkpoint event, as a sink would have received it.
    const report = JSON.parse((await cli(['audit', 'verify', '--json'], env())).out) as { checkpoints: number };
    expect(report.checkpoints).toBe(1);
    const notes = await handle.store.all<{ data: string }>("SELECT data FROM events WHERE type = 'audit.checkpoint'");
    const file = join(dir, 'kept.note');
    writeFileSync(file, (JSON.parse(notes[0]!.data) as { note: string }).note);
    const third = await cli(['audit', 'verify', '--vkey', vkey, '--checkpoint', file], { KEYTURN_DB: handle.db, KEYTURN_DATA_DIR: join(dir, 'elsewhere') });
    expect(third.code).toBe(0);
    expect(third.out).toContain('1 external checkpoints reproduced');
  });

  it('an edited record exits 1 and is named', async () => {
    await handle.store.run("UPDATE events SET data = replace(data, 'k1', 'k9') WHERE seq = 3");
    const run = await cli(['audit', 'verify'], env());
    expect(run.code).toBe(1);
    expect(run.out.split('\n')[0]).toMatch(/DAMAGED: first modified record at seq 3 \(evt_[^)]+\): record seq 3 \(evt_[^)]+\) differs from what was sealed$/);
  });

  it('a deleted record exits 1 and is named', async () => {
    await handle.store.run('DELETE FROM events WHERE seq = 2');
    const run = await cli(['audit', 'verify'], env());
    expect(run.code).toBe(1);
    expect(run.out.split('\n')[0]).toMatch(/first deleted record at seq 2 /);
  });

  it('reordered records exit 1 and are named', async () => {
    await handle.store.run('UPDATE events SET seq = -1 WHERE seq = 2');
    await handle.store.run('UPDATE events SET seq = 2 WHERE seq = 4');
    await handle.store.run('UPDATE events SET seq = 4 WHERE seq = -1');
    const run = await cli(['audit', 'verify'], env());
    expect(run.code).toBe(1);
    expect(run.out.split('\n')[0]).toMatch(/first reordered record at seq 2 .*was sealed at seq 4 and is now at seq 2$/);
  });

  it('a wrong verifier key exits 1; a malformed one is a usage error that names it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'keyturn-other-'));
    const none = await cli(['audit', 'vkey'], { KEYTURN_DATA_DIR: empty });
    expect(none.code).toBe(2);
    expect(none.err).toContain('no master key');
    rmSync(empty, { recursive: true, force: true });
    const other = logKeyFromMaster(new Uint8Array(32).fill(3)).vkey;
    const run = await cli(['audit', 'verify', '--vkey', other], { KEYTURN_DB: handle.db, KEYTURN_DATA_DIR: join(dir, 'elsewhere') });
    expect(run.code).toBe(1);
    expect(run.out).toContain('checkpoint of size 5');
    const bad = await cli(['audit', 'verify', '--vkey', 'not-a-key'], env());
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('invalid verifier key');
  });
});
