import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveBin } from '../support/spawn.js';
import { PG_UP, PG_URL } from '../support/stores.js';

type Server = Awaited<ReturnType<typeof serveBin>>;

async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates `n` keys of `owner`, `parallel` at a time; returns their ids and secrets. */
async function createKeys(url: string, admin: string, owner: string, n: number, parallel = 16): Promise<{ id: string; key: string }[]> {
  const out: { id: string; key: string }[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(parallel, n - i) }, async (_, j) => {
        const res = await api(url, admin, 'POST', '/v1/keys', { owner, name: `k${i + j}` });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        return { id: res.body.id as string, key: res.body.key as string };
      }),
    );
    out.push(...batch);
  }
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Each of `ids` is either untouched (active, no successor, no event) or rotated exactly once (rotating, one live successor, one event naming it). */
function checkWhole(rows: { id: string; status: string }[], successors: { predecessor_id: string; id: string; status: string; pickup: string | null }[], events: { target: string; successor: string }[], ids: readonly string[]) {
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const next = new Map<string, { id: string; status: string; pickup: string | null }[]>();
  for (const s of successors) next.set(s.predecessor_id, [...(next.get(s.predecessor_id) ?? []), s]);
  const evented = new Map<string, string[]>();
  for (const e of events) evented.set(e.target, [...(evented.get(e.target) ?? []), e.successor]);
  let rotated = 0;
  for (const id of ids) {
    const mine = next.get(id) ?? [];
    if (status.get(id) === 'active') {
      expect(mine, id).toEqual([]);
      expect(evented.get(id), id).toBeUndefined();
    } else {
      expect(status.get(id), id).toBe('rotating');
      expect(mine.length, id).toBe(1);
      expect(mine[0]!.status).toBe('active');
      expect(mine[0]!.pickup, 'the successor is sealed for its holder').not.toBeNull();
      expect(evented.get(id), id).toEqual([mine[0]!.id]);
      rotated++;
    }
  }
  return rotated;
}

describe('scheduled rotation across real processes (dist/bin)', () => {
  describe.runIf(PG_UP)('two servers on one PostgreSQL', () => {
    const schema = `kt_rot_${randomBytes(5).toString('hex')}`;
    const db = `${PG_URL}?schema=${schema}`;
    const masterKey = randomBytes(32).toString('hex');
    const dirs = [mkdtempSync(join(tmpdir(), 'keyturn-rot-a-')), mkdtempSync(join(tmpdir(), 'keyturn-rot-b-'))];
    const servers: Server[] = [];
    const client = new pg.Client({ connectionString: PG_URL });
    beforeAll(async () => {
      await client.connect();
      for (const dir of dirs) {
        servers.push(await serveBin(['--db', db, '--data-dir', dir, '--master-key', masterKey, '--issuer', 'https://keyturn.test', '--rotation-tick', '100']));
      }
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('rotate the same schedule with each API key and client secret rotated exactly once', async () => {
      const [a, b] = servers as [Server, Server];
      const admin = readFileSync(join(dirs[0]!, 'admin.key'), 'utf8').trim();
      expect((await api(a.url, admin, 'POST', '/v1/principals', { kind: 'service', name: 'bank', policy: 'banking' })).status).toBe(201);
      const keys = await createKeys(b.url, admin, 'bank', 150);
      const clients: string[] = [];
      for (let i = 0; i < 10; i++) clients.push((await api(i % 2 ? a.url : b.url, admin, 'POST', '/v1/clients', { name: `pay${i}`, owner: 'bank', policy: 'banking' })).body.client_id);
      // Their day has come (the test moves the schedule, not the clocks of the servers).
      const now = Date.now();
      await client.query(`UPDATE "${schema}".api_keys SET rotate_at = $1 WHERE principal_id = (SELECT id FROM "${schema}".principals WHERE name = 'bank')`, [now - 1000]);
      await client.query(`UPDATE "${schema}".oauth_clients SET secret_rotate_at = $1 WHERE name LIKE 'pay%'`, [now - 1000]);
      const count = async (type: string) => Number((await client.query(`SELECT COUNT(*) AS n FROM "${schema}".events WHERE type = $1`, [type])).rows[0].n);
      await until('every rotation', async () => ((await count('key.rotated')) >= keys.length && (await count('client.secret_rotated')) >= clients.length ? true : undefined));
      // A few more ticks of both nodes find nothing more to do.
      await new Promise((r) => setTimeout(r, 600));
      const rows = (await client.query(`SELECT id, status FROM "${schema}".api_keys`)).rows;
      const successors = (await client.query(`SELECT predecessor_id, id, status, pickup FROM "${schema}".api_keys WHERE predecessor_id IS NOT NULL`)).rows;
      const events = (await client.query(`SELECT target, data FROM "${schema}".events WHERE type = 'key.rotated'`)).rows.map((e) => ({ target: e.target, successor: JSON.parse(e.data).successor }));
      expect(checkWhole(rows, successors, events, keys.map((k) => k.id))).toBe(keys.length);
      expect(events.length).toBe(keys.length);
      const secretEvents = (await client.query(`SELECT target, reason FROM "${schema}".events WHERE type = 'client.secret_rotated'`)).rows;
      expect(secretEvents.map((e) => e.target).sort()).toEqual([...clients].sort());
      expect(secretEvents.every((e) => e.reason === 'schedule')).toBe(true);
      // The holders collect their successors from either node.
      const picked = await api(a.url, keys[0]!.key, 'POST', '/v1/keys/self/rotate');
      expect(picked.status).toBe(200);
      expect((await api(b.url, admin, 'POST', '/v1/keys/verify', { key: picked.body.key })).body).toMatchObject({ valid: true, keyId: picked.body.id });
    }, 180_000);
  });

  /** Reads what a kill must leave whole: the keys, the successors and the rotation events. */
  interface Snapshot {
    rows: { id: string; status: string }[];
    successors: { predecessor_id: string; id: string; status: string; pickup: string | null }[];
    events: { target: string; successor: string }[];
  }
  interface Database_ {
    args: string[];
    setDue(at: number): Promise<void>;
    snapshot(): Promise<Snapshot>;
    close(): Promise<void>;
  }

  const sqliteDb = (dir: string): Database_ => {
    const file = join(dir, 'keyturn.db');
    const read = <T>(fn: (db: Database.Database) => T): T => {
      const db = new Database(file, { readonly: true });
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    return {
      args: [],
      async setDue(at) {
        const db = new Database(file);
        db.prepare("UPDATE api_keys SET rotate_at = ? WHERE principal_id = (SELECT id FROM principals WHERE name = 'bank')").run(at);
        db.close();
      },
      async snapshot() {
        return read((db) => ({
          rows: db.prepare('SELECT id, status FROM api_keys').all() as Snapshot['rows'],
          successors: db.prepare('SELECT predecessor_id, id, status, pickup FROM api_keys WHERE predecessor_id IS NOT NULL').all() as Snapshot['successors'],
          events: (db.prepare("SELECT target, data FROM events WHERE type = 'key.rotated'").all() as { target: string; data: string }[]).map((e) => ({
            target: e.target,
            successor: (JSON.parse(e.data) as { successor: string }).successor,
          })),
        }));
      },
      async close() {},
    };
  };

  const postgresDb = async (): Promise<Database_> => {
    const schema = `kt_kill_${randomBytes(5).toString('hex')}`;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    const q = (sql: string, params: unknown[] = []) => client.query(sql.replaceAll('$S', `"${schema}"`), params);
    return {
      args: ['--db', `${PG_URL}?schema=${schema}`, '--issuer', 'https://keyturn.test'],
      async setDue(at) {
        await q("UPDATE $S.api_keys SET rotate_at = $1 WHERE principal_id = (SELECT id FROM $S.principals WHERE name = 'bank')", [at]);
      },
      async snapshot() {
        return {
          rows: (await q('SELECT id, status FROM $S.api_keys')).rows,
          successors: (await q('SELECT predecessor_id, id, status, pickup FROM $S.api_keys WHERE predecessor_id IS NOT NULL')).rows,
          events: (await q("SELECT target, data FROM $S.events WHERE type = 'key.rotated'")).rows.map((e) => ({ target: e.target, successor: JSON.parse(e.data).successor })),
        };
      },
      async close() {
        await q('DROP SCHEMA IF EXISTS $S CASCADE');
        await client.end();
      },
    };
  };

  for (const kind of ['sqlite', 'postgres'] as const) {
    describe.runIf(kind === 'sqlite' || PG_UP)(`kill -9 in the middle of a rotation [${kind}]`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'keyturn-rot-kill-'));
      const masterKey = randomBytes(32).toString('hex');
      let server: Server | undefined;
      let db: Database_ | undefined;
      afterAll(async () => {
        await server?.stop();
        await db?.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it('loses neither the old nor the new key and leaves no half-done rotation; the restart finishes the rest once', async () => {
        db = kind === 'sqlite' ? sqliteDb(dir) : await postgresDb();
        const args = ['--data-dir', dir, '--master-key', masterKey, ...db.args];
        server = await serveBin([...args, '--rotation-tick', '0']);
        const admin = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
        expect((await api(server.url, admin, 'POST', '/v1/principals', { kind: 'service', name: 'bank', policy: 'banking' })).status).toBe(201);
        const keys = await createKeys(server.url, admin, 'bank', 1200);
        const ids = keys.map((k) => k.id);
        await server.stop();
        await db.setDue(Date.now() - 1000);
        const rotatedCount = async () => (await db!.snapshot()).rows.filter((r) => r.status === 'rotating').length;

        server = await serveBin([...args, '--rotation-tick', '50']);
        const victim = server;
        await until('a rotation under way', async () => ((await rotatedCount()) >= 100 ? true : undefined));
        victim.child.kill('SIGKILL');
        await new Promise((r) => victim.child.once('exit', r));
        server = undefined;

        const killed = await db.snapshot();
        const doneBefore = checkWhole(killed.rows, killed.successors, killed.events, ids);
        expect(doneBefore).toBeGreaterThanOrEqual(100);
        expect(doneBefore, 'killed in the middle, not after the end').toBeLessThan(keys.length);

        server = await serveBin([...args, '--rotation-tick', '50']);
        await until('the rest rotated after the restart', async () => ((await rotatedCount()) === keys.length ? true : undefined));
        await new Promise((r) => setTimeout(r, 300));
        const after = await db.snapshot();
        expect(checkWhole(after.rows, after.successors, after.events, ids)).toBe(keys.length);
        expect(after.events.length).toBe(keys.length);

        // A key rotated before the kill still verifies (its grace), and its holder collects the successor, which verifies.
        const early = keys.find((k) => killed.rows.find((r) => r.id === k.id)?.status === 'rotating')!;
        expect((await api(server.url, admin, 'POST', '/v1/keys/verify', { key: early.key })).body).toMatchObject({ valid: true, rotation: { status: 'rotating' } });
        const picked = await api(server.url, early.key, 'POST', '/v1/keys/self/rotate');
        expect(picked.status, JSON.stringify(picked.body)).toBe(200);
        expect((await api(server.url, admin, 'POST', '/v1/keys/verify', { key: picked.body.key })).body).toMatchObject({ valid: true, keyId: picked.body.id });
      }, 240_000);
    });
  }
});
