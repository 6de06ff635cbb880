import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import type { Store } from '../../src/store/port.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';

export const PG_URL = process.env.KEYTURN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export type StoreKind = 'sqlite' | 'postgres';

let pgReachable: Promise<boolean> | undefined;

/** Whether PostgreSQL answers. With `KEYTURN_REQUIRE_SERVICES=1` an unreachable one fails the run. */
export function postgresAvailable(): Promise<boolean> {
  pgReachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (err) {
      if (process.env.KEYTURN_REQUIRE_SERVICES === '1') {
        throw new Error(`PostgreSQL is required (KEYTURN_REQUIRE_SERVICES=1) but ${PG_URL} is unreachable: ${(err as Error).message}`);
      }
      return false;
    }
  })();
  return pgReachable;
}

/** A fresh, empty store of `kind`: a temp SQLite file, or a new PostgreSQL schema. */
export interface StoreHandle {
  readonly store: Store;
  /** A URL/path that `openStore` accepts for the same database. */
  readonly db: string;
  /** Opens a second, independent store on the same database (another "node"). */
  another(): Promise<Store>;
  dispose(): Promise<void>;
}

export async function freshStore(kind: StoreKind): Promise<StoreHandle> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-store-'));
    const file = join(dir, 'test.db');
    const store = new SqliteStore({ filename: file });
    const others: Store[] = [];
    return {
      store,
      db: file,
      async another() {
        const other = new SqliteStore({ filename: file });
        others.push(other);
        return other;
      },
      async dispose() {
        for (const o of others) await o.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `kt_test_${randomBytes(6).toString('hex')}`;
  const store = new PostgresStore({ url: PG_URL, schema });
  await store.connect();
  const others: PostgresStore[] = [];
  return {
    store,
    db: `${PG_URL}?schema=${schema}`,
    async another() {
      const other = new PostgresStore({ url: PG_URL, schema });
      await other.connect();
      others.push(other);
      return other;
    },
    async dispose() {
      for (const o of others) await o.close();
      await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

/** Resolved once per test file at import: whether the PostgreSQL suites run. */
export const PG_UP = await postgresAvailable();

/**
 * Runs the same suite on every adapter (the kysely / better-auth way). PostgreSQL runs when
 * reachable, and must be reachable when `KEYTURN_REQUIRE_SERVICES=1` (the import fails otherwise).
 */
export function describeStore(name: string, suite: (kind: StoreKind) => void): void {
  for (const kind of ['sqlite', 'postgres'] as const) {
    describe.runIf(kind === 'sqlite' || PG_UP)(`${name} [${kind}]`, () => suite(kind));
  }
}
