import pg from 'pg';
import { createHash } from 'node:crypto';
import { KeyturnError } from '../../core/errors.js';
import { ListenerRegistry } from '../listeners.js';
import {
  assertMigrationOrder,
  migrationSql,
  type Migration,
  type RunResult,
  type SqlValue,
  type Store,
  type Transaction,
} from '../port.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db`. */
  readonly url: string;
  /** Schema to use (created if missing); also scopes change-feed channels. Default `public`. */
  readonly schema?: string;
  /** Size of the connection pool (default 10); the LISTEN connection is one more. */
  readonly maxConnections?: number;
  /** Called when the LISTEN connection fails or reconnects. */
  readonly onFeedError?: (err: unknown) => void;
}

const placeholderCache = new Map<string, string>();

/** `?` → `$1, $2, …`. Our SQL never puts `?` inside literals. */
export function numberPlaceholders(sql: string): string {
  let out = placeholderCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (placeholderCache.size > 1000) placeholderCache.clear();
    placeholderCache.set(sql, out);
  }
  return out;
}

/** int8 (BIGINT, COUNT) as a JS number: our BIGINTs are millisecond times and counters. */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The PostgreSQL backend pid behind a client (pg keeps it as `processID`). */
function backendPid(client: unknown): number {
  return (client as { processID?: number }).processID ?? -1;
}

function wrap(err: unknown): never {
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && (code.startsWith('08') || code === 'ECONNREFUSED' || code === '57P01')) {
    throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'PostgreSQL is unavailable', { cause: err });
  }
  throw err;
}

/**
 * PostgreSQL adapter for several stateless keyturn processes. The change feed is
 * LISTEN/NOTIFY on one dedicated connection that reconnects by itself; after a reconnect every
 * listener gets `null` (messages may have been missed). A node's own notifications reach its
 * listeners right after its commit, not a round trip later. Migrations run under an advisory lock so
 * that nodes starting together apply each one once.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #url: string;
  readonly #listeners: ListenerRegistry;
  readonly #onFeedError: (err: unknown) => void;
  #listenClient: pg.Client | undefined;
  #listening = new Set<string>();
  #connecting: Promise<void> | undefined;
  /** The feed connection's queries, one after another: pg refuses overlapping queries on a client (pg 9). */
  #feedQueries: Promise<unknown> = Promise.resolve();
  #closed = false;
  #channelTag: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Backend pids of this store's pool connections: their NOTIFYs were already delivered locally. */
  readonly #ownBackends = new Set<number>();

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!IDENT.test(schema)) throw new KeyturnError('ERR_CONFIG', 'PostgreSQL schema name must be a plain identifier');
    this.#schema = schema;
    this.#url = options.url;
    this.#onFeedError = options.onFeedError ?? (() => {});
    this.#listeners = new ListenerRegistry(this.#onFeedError);
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      types,
      options: `-c search_path=${schema}`,
    });
    this.#pool.on('error', (err) => this.#onFeedError(err));
    this.#pool.on('connect', (client) => this.#ownBackends.add(backendPid(client)));
    this.#pool.on('remove', (client) => this.#ownBackends.delete(backendPid(client)));
  }

  /** Creates the schema when missing; call once before use. */
  async connect(): Promise<void> {
    try {
      const client = await this.#pool.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      } finally {
        client.release();
      }
    } catch (err) {
      if (err instanceof KeyturnError) throw err;
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'cannot connect to PostgreSQL', { cause: err });
    }
  }

  async all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    try {
      return (await this.#pool.query(numberPlaceholders(sql), params as unknown[])).rows as T[];
    } catch (err) {
      return wrap(err);
    }
  }

  async get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    try {
      return { changes: (await this.#pool.query(numberPlaceholders(sql), params as unknown[])).rowCount ?? 0 };
    } catch (err) {
      return wrap(err);
    }
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'cannot connect to PostgreSQL', { cause: err });
    }
    const pending: Array<[string, string]> = [];
    let open = true;
    const guard = () => {
      if (!open) throw new Error('transaction already finished');
    };
    // One client per transaction, and pg runs one query at a time on a client: queries a caller
    // starts together (Promise.all over tx.get) are queued here, not inside pg (deprecated in pg 8).
    let last: Promise<unknown> = Promise.resolve();
    const query = (sql: string, params?: readonly SqlValue[]) => {
      guard();
      const next = last.then(() => client.query(numberPlaceholders(sql), params as unknown[]));
      last = next.catch(() => undefined);
      return next;
    };
    const tx: Transaction = {
      dialect: 'postgres',
      all: async <R>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as R[],
      get: async <R>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as R | undefined,
      run: async (sql, params) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
      notify: (channel, payload) => {
        guard();
        pending.push([channel, payload]);
      },
    };
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await last; // a query the caller started but did not await still belongs before COMMIT
      // NOTIFY inside the transaction: PostgreSQL delivers it only on commit. All of them in one
      // round trip, in the order they were made (a transaction rotating 100 keys makes hundreds).
      if (pending.length > 0) {
        await client.query('SELECT pg_notify(t.c, t.p) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, n) ORDER BY t.n', [
          pending.map(([channel]) => this.#channel(channel)),
          pending.map(([, payload]) => payload),
        ]);
      }
      await client.query('COMMIT');
      // This node's listeners hear at once, as with SQLite; the LISTEN echo is skipped.
      for (const [channel, payload] of pending) this.#listeners.emit(channel, payload);
      return result;
    } catch (err) {
      try {
        await last;
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      return wrap(err);
    } finally {
      open = false;
      client.release(broken);
    }
  }

  /** Channel names are per schema so that deployments sharing a database stay apart. */
  #channel(channel: string): string {
    this.#channelTag ??= createHash('sha256').update(this.#schema).digest('hex').slice(0, 8);
    return `kt_${this.#channelTag}_${channel}`.slice(0, 63);
  }

  subscribe(channel: string, listener: (payload: string | null) => void): () => void {
    const remove = this.#listeners.add(channel, listener);
    void this.#ensureListening(channel);
    return remove;
  }

  async #ensureListening(channel: string): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#connectFeed();
      if (!this.#listening.has(channel) && this.#listenClient) {
        this.#listening.add(channel);
        await this.#listen(this.#listenClient, channel);
      }
    } catch (err) {
      this.#onFeedError(err);
    }
  }

  /** Waits until the feed connection listens on every subscribed channel (tests, readiness). */
  async feedReady(): Promise<void> {
    for (const channel of this.#listeners.channels()) await this.#ensureListening(channel);
  }

  #connectFeed(): Promise<void> {
    if (this.#listenClient) return Promise.resolve();
    this.#connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url });
      const byName = new Map<string, string>();
      client.on('notification', (msg) => {
        if (this.#ownBackends.has(msg.processId)) return;
        let channel = byName.get(msg.channel);
        if (channel === undefined) {
          channel = this.#listeners.channels().find((c) => this.#channel(c) === msg.channel);
          if (channel === undefined) return;
          byName.set(msg.channel, channel);
        }
        this.#listeners.emit(channel, msg.payload ?? '');
      });
      client.on('error', (err) => this.#feedLost(client, err));
      client.on('end', () => this.#feedLost(client, new Error('LISTEN connection ended')));
      try {
        await client.connect();
      } catch (err) {
        this.#connecting = undefined;
        this.#scheduleReconnect();
        throw err;
      }
      this.#listening = new Set();
      this.#listenClient = client;
      this.#connecting = undefined;
      for (const channel of this.#listeners.channels()) {
        this.#listening.add(channel);
        await this.#listen(client, channel);
      }
    })();
    return this.#connecting;
  }

  /** `LISTEN` on the feed connection, queued behind its other queries. */
  #listen(client: pg.Client, channel: string): Promise<unknown> {
    const next = this.#feedQueries.then(() => client.query(`LISTEN "${this.#channel(channel)}"`));
    this.#feedQueries = next.catch(() => undefined);
    return next;
  }

  #feedLost(client: pg.Client, err: unknown): void {
    if (this.#listenClient !== client) return;
    this.#listenClient = undefined;
    this.#listening = new Set();
    if (this.#closed) return;
    this.#onFeedError(err);
    this.#listeners.resetAll();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connectFeed()
        .then(() => this.#listeners.resetAll())
        .catch((err) => this.#onFeedError(err));
    }, 1_000);
    this.#retry.unref();
  }

  async migrate(migrations: readonly Migration[]): Promise<string[]> {
    assertMigrationOrder(migrations);
    const lockId = Number.parseInt(createHash('sha256').update(`keyturn:${this.#schema}`).digest('hex').slice(0, 12), 16);
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', 'cannot connect to PostgreSQL', { cause: err });
    }
    const applied: string[] = [];
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      // Why: one node at a time applies migrations; the others wait, then find them applied.
      await client.query('SELECT pg_advisory_lock($1)', [lockId]);
      try {
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)',
        );
        for (const migration of migrations) {
          const seen = await client.query('SELECT id FROM schema_migrations WHERE id = $1', [migration.id]);
          if (seen.rowCount) continue;
          try {
            await client.query('BEGIN');
            await client.query(migrationSql(migration, 'postgres'));
            await client.query('INSERT INTO schema_migrations (id, description, applied_at) VALUES ($1, $2, $3)', [
              migration.id,
              migration.description,
              Date.now(),
            ]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw new KeyturnError('ERR_MIGRATION', `migration ${migration.id} failed`, { cause: err });
          }
          applied.push(migration.id);
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [lockId]);
      }
    } finally {
      client.release();
    }
    return applied;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#listenClient;
    this.#listenClient = undefined;
    await client?.end().catch(() => undefined);
    await this.#pool.end();
  }
}
