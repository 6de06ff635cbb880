import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeyturnError } from '../../core/errors.js';
import { ListenerRegistry } from '../listeners.js';
import { holdDatabaseFile } from './lock.js';
import { ReaderThread } from './reader-thread.js';
import {
  assertMigrationOrder,
  type CommitScope,
  migrationSql,
  type Migration,
  type Queryable,
  type RunResult,
  type SqlValue,
  type Store,
  type Transaction,
} from '../port.js';

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for a private in-memory database (one connection). */
  readonly filename: string;
  /** `normal` (default) survives a process crash; `full` also survives power loss. */
  readonly synchronous?: 'normal' | 'full';
  /**
   * Open beside the process that serves the file, without its hold: for a short local command
   * (`keyturn admin recover`) whose writes need no cache of that process to hear of them. SQLite
   * (WAL, `busy_timeout`) serialises the writers.
   */
  readonly beside?: boolean;
}

type Db = Database.Database;

/** A transaction waiting for the writer. */
interface Job {
  readonly fn: (tx: Transaction) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The values and pre-commit work the transactions of one group commit share (see
 * {@link CommitScope}); a fresh one for every commit, and whenever SQLite abandons the open one.
 */
class GroupCommit {
  readonly #values = new Map<string, unknown>();
  readonly #before = new Map<string, (db: Queryable) => Promise<unknown>>();

  get<T>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.#values.set(key, value);
  }

  beforeCommit(key: string, fn: (db: Queryable) => Promise<unknown>): void {
    if (!this.#before.has(key)) this.#before.set(key, fn);
  }

  /** Runs the pre-commit work, in the order it was first registered. */
  async finish(db: Queryable): Promise<void> {
    for (const fn of this.#before.values()) await fn(db);
  }
}

/** Most transactions that share one commit. */
const MAX_BATCH = 64;

/** better-sqlite3 binds booleans poorly and bigints only in safe mode; normalise. */
function bind(params: readonly SqlValue[] | undefined): unknown[] {
  return params ? (params as unknown[]) : [];
}

/** `sql` prepared once per connection (a bounded cache). */
function prepared(db: Db, cache: Map<string, Database.Statement>, sql: string): Database.Statement {
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    if (cache.size > 500) cache.clear();
    cache.set(sql, stmt);
  }
  return stmt;
}

/** A {@link Queryable} over a better-sqlite3 connection (without its dialect). */
export function queryable(db: Db, cache: Map<string, Database.Statement>): Omit<Queryable, 'dialect'> {
  return {
    async all<T>(sql: string, params?: readonly SqlValue[]) {
      return prepared(db, cache, sql).all(...bind(params)) as T[];
    },
    async get<T>(sql: string, params?: readonly SqlValue[]) {
      return prepared(db, cache, sql).get(...bind(params)) as T | undefined;
    },
    async run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
      const stmt = prepared(db, cache, sql);
      if (!stmt.reader) return { changes: stmt.run(...bind(params)).changes };
      stmt.all(...bind(params));
      return { changes: 0 };
    },
  };
}

/**
 * Creates the database's directory (mode 0700) and file and lock file (0600) when missing, whatever
 * the umask, so no other user of the machine can read them; existing ones keep their mode (the
 * runtime checks it at start). Not on Windows, where modes mean nothing.
 */
function createPrivate(filename: string): void {
  const dir = dirname(filename);
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  const posix = process.platform !== 'win32';
  if (created !== undefined && posix) chmodSync(dir, 0o700);
  for (const file of [filename, `${filename}.lock`]) {
    try {
      closeSync(openSync(file, 'wx', 0o600));
      if (posix) chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * The embedded default: one SQLite file in WAL mode. Transactions run one at a time on a
 * writer connection (`BEGIN IMMEDIATE`; in WAL mode with `synchronous=NORMAL` a committed credential or
 * event survives a crash of the process, with `FULL` also a power loss); reads outside transactions use a second, read-only connection and so
 * only ever see committed data. The change feed is in-process.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly #writer: Db;
  readonly #reader: Db;
  readonly #writerStatements = new Map<string, Database.Statement>();
  readonly #readerStatements = new Map<string, Database.Statement>();
  readonly #listeners = new ListenerRegistry();
  readonly #reads: Omit<Queryable, 'dialect'>;
  readonly #jobs: Job[] = [];
  #draining = false;
  #scheduled = false;
  #idle: (() => void) | undefined;
  #closed = false;
  readonly #release: () => void;
  /** A read-only connection on another thread, for {@link readOffThread}; only for a database file. */
  readonly #readerThread: ReaderThread | undefined;
  readonly readOffThread: Store['readOffThread'];

  /**
   * Opens `options.filename`. Throws `ERR_CONFIG` when another process has the file open: SQLite
   * serves one process (stores opened by this process share it).
   */
  constructor(options: SqliteStoreOptions) {
    const memory = options.filename === ':memory:';
    if (!memory) createPrivate(options.filename);
    this.#release = memory || options.beside ? () => {} : holdDatabaseFile(options.filename);
    try {
      this.#writer = new Database(options.filename);
      this.#writer.pragma('journal_mode = WAL');
      // SQLite gives the -wal and -shm files the database file's mode; made 0600 here in any case.
      if (!memory) for (const companion of ['-wal', '-shm']) if (existsSync(options.filename + companion)) chmodSync(options.filename + companion, 0o600);
      this.#writer.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      this.#writer.pragma('foreign_keys = ON');
      this.#writer.pragma('busy_timeout = 5000');
      // Each transaction of a group commit runs in a savepoint, whose journal is a temporary file:
      // kept in memory, a token issuance makes no journal writes (measured: ~15 µs of system CPU
      // per token on the token endpoint). It holds a transaction's changed pages, a bounded size.
      this.#writer.pragma('temp_store = MEMORY');
      this.#reader = memory ? this.#writer : new Database(options.filename, { readonly: false });
      if (!memory) {
        this.#reader.pragma('busy_timeout = 5000');
        this.#reader.pragma('query_only = ON');
      }
    } catch (err) {
      this.#release();
      throw new KeyturnError('ERR_STORE_UNAVAILABLE', `cannot open SQLite database ${options.filename}`, { cause: err });
    }
    this.#reads = queryable(this.#reader, this.#readerStatements);
    this.#readerThread = memory ? undefined : new ReaderThread(options.filename);
    const thread = this.#readerThread;
    this.readOffThread = thread === undefined ? undefined : (task) => {
      if (this.#closed) return Promise.reject(new KeyturnError('ERR_STORE_UNAVAILABLE', 'store is closed'));
      return thread.run(task);
    };
  }

  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#reads.all<T>(sql, params);
  }

  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#reads.get<T>(sql, params);
  }

  /** A write outside an explicit transaction still goes through the writer queue. */
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.transaction((tx) => tx.run(sql, params));
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#jobs.push({ fn: fn as (tx: Transaction) => Promise<unknown>, resolve: resolve as (value: unknown) => void, reject });
      // Start on the next turn of the event loop, after the I/O callbacks of this one: requests
      // that arrived together then share a commit instead of each paying for one.
      if (!this.#draining && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          if (!this.#draining) void this.#drain();
        });
      }
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#jobs.length > 0) await this.#batch();
    } finally {
      this.#draining = false;
      this.#idle?.();
    }
  }

  /**
   * Group commit: the transactions waiting when the writer frees up run one after another inside
   * one SQLite transaction, each in its own savepoint, and share its COMMIT — a commit writes every
   * page it touched to the WAL, so under load this is most of the cost. Each caller's promise
   * settles only after that COMMIT (nothing is acknowledged before it is durable); a transaction
   * that throws is rolled back to its savepoint alone, and its caller told at once.
   */
  async #batch(): Promise<void> {
    if (this.#closed) {
      for (const job of this.#jobs.splice(0)) job.reject(new KeyturnError('ERR_STORE_UNAVAILABLE', 'store is closed'));
      return;
    }
    const done: Array<{ job: Job; result: unknown; pending: Array<[string, string]> }> = [];
    let group = new GroupCommit();
    const fail = (err: unknown) => {
      for (const d of done) d.job.reject(err);
      done.length = 0;
    };
    try {
      this.#statement('BEGIN IMMEDIATE').run();
    } catch (err) {
      this.#jobs.shift()?.reject(new KeyturnError('ERR_STORE_UNAVAILABLE', 'cannot start a transaction', { cause: err }));
      return;
    }
    // Jobs that arrive while this batch runs join it, up to MAX_BATCH.
    let job: Job | undefined;
    for (let taken = 0; taken < MAX_BATCH && (job = this.#jobs.shift()); taken++) {
      const pending: Array<[string, string]> = [];
      const rollbacks: Array<() => void> = [];
      const { tx, finish } = this.#transactionHandle(pending, group, rollbacks);
      this.#statement('SAVEPOINT kt_tx').run();
      try {
        const result = await job.fn(tx);
        this.#statement('RELEASE kt_tx').run();
        done.push({ job, result, pending });
      } catch (err) {
        if (this.#writer.inTransaction) {
          this.#statement('ROLLBACK TO kt_tx').run();
          this.#statement('RELEASE kt_tx').run();
          // What the transaction took from the commit's shared values goes back with its rows.
          for (let i = rollbacks.length - 1; i >= 0; i--) rollbacks[i]!();
        } else {
          // SQLite abandoned the whole transaction (e.g. disk full): the batch is lost, and with
          // it every value the commit kept; the transactions still waiting start a fresh one.
          fail(err);
          group = new GroupCommit();
        }
        job.reject(err);
      } finally {
        finish();
      }
      if (!this.#writer.inTransaction) this.#statement('BEGIN IMMEDIATE').run();
    }
    try {
      await group.finish({ dialect: 'sqlite', ...queryable(this.#writer, this.#writerStatements) });
      this.#statement('COMMIT').run();
    } catch (err) {
      if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
      fail(new KeyturnError('ERR_STORE_UNAVAILABLE', 'commit failed', { cause: err }));
      return;
    }
    for (const { job, result, pending } of done) {
      for (const [channel, payload] of pending) this.#listeners.emit(channel, payload);
      job.resolve(result);
    }
  }

  #statement(sql: string): Database.Statement {
    return prepared(this.#writer, this.#writerStatements, sql);
  }

  #transactionHandle(pending: Array<[string, string]>, group: GroupCommit, rollbacks: Array<() => void>): { tx: Transaction; finish: () => void } {
    let open = true;
    const base = queryable(this.#writer, this.#writerStatements);
    const guard = () => {
      if (!open) throw new Error('transaction already finished');
    };
    const commit: CommitScope = {
      get: (key) => group.get(key),
      set: (key, value) => (guard(), group.set(key, value)),
      beforeCommit: (key, fn) => (guard(), group.beforeCommit(key, fn)),
      onRollback: (fn) => {
        guard();
        rollbacks.push(fn);
      },
    };
    const tx: Transaction = {
      dialect: 'sqlite',
      all: (sql, params) => (guard(), base.all(sql, params)),
      get: (sql, params) => (guard(), base.get(sql, params)),
      run: (sql, params) => (guard(), base.run(sql, params)),
      notify: (channel, payload) => {
        guard();
        pending.push([channel, payload]);
      },
      commit,
    };
    return { tx, finish: () => (open = false) };
  }

  subscribe(channel: string, listener: (payload: string | null) => void): () => void {
    return this.#listeners.add(channel, listener);
  }

  async migrate(migrations: readonly Migration[]): Promise<string[]> {
    assertMigrationOrder(migrations);
    // Why: records which numbered migrations this database has, so each runs exactly once.
    this.#writer.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const applied: string[] = [];
    for (const migration of migrations) {
      const done = await this.transaction(async (tx) => {
        if (await tx.get('SELECT id FROM schema_migrations WHERE id = ?', [migration.id])) return false;
        try {
          this.#writer.exec(migrationSql(migration, 'sqlite'));
        } catch (err) {
          throw new KeyturnError('ERR_MIGRATION', `migration ${migration.id} failed`, { cause: err });
        }
        await tx.run('INSERT INTO schema_migrations (id, description, applied_at) VALUES (?, ?, ?)', [
          migration.id,
          migration.description,
          Date.now(),
        ]);
        return true;
      });
      if (done) applied.push(migration.id);
    }
    return applied;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#draining || this.#scheduled) await new Promise<void>((resolve) => (this.#draining ? (this.#idle = resolve) : setImmediate(resolve)));
    this.#closed = true;
    await this.#readerThread?.close();
    if (this.#reader !== this.#writer) this.#reader.close();
    this.#writer.close();
    this.#release();
  }
}
