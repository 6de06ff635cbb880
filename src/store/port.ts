/**
 * The `Store` port: the one interface every capability talks to, with an SQLite and a
 * PostgreSQL adapter behind it (like kysely's `Dialect`). Capabilities own their SQL,
 * written in the common subset of both dialects:
 *
 * - `?` placeholders (the PostgreSQL adapter numbers them),
 * - times as `BIGINT` milliseconds since the epoch, booleans as `INTEGER` 0/1,
 * - JSON as `TEXT`, digests as lower-case hex `TEXT`,
 * - `INSERT … ON CONFLICT`, `RETURNING`.
 *
 * Where the dialects differ (auto-increment keys, locking), a migration gives one text per dialect.
 */
export type Dialect = 'sqlite' | 'postgres';

export type SqlValue = string | number | bigint | null | Uint8Array;

export interface RunResult {
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
}

/** What both a store and an open transaction can do. */
export interface Queryable {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
}

/** An open transaction. Notifications queued with `notify` are delivered only if it commits. */
export interface Transaction extends Queryable {
  notify(channel: string, payload: string): void;
  /**
   * The commit this transaction will share, on an adapter with one writer that commits several
   * transactions together (SQLite's group commit); `undefined` where each transaction commits on
   * its own (PostgreSQL). See {@link CommitScope}.
   */
  readonly commit?: CommitScope | undefined;
}

/**
 * What the transactions of one SQLite group commit share: they run one after another on the one
 * writer, each in its own savepoint, and end in one COMMIT. A capability may keep a value there for
 * the length of the commit (a counter it would otherwise UPDATE in every transaction), give back
 * what a transaction rolled back ({@link onRollback}), and write the value once, as the last
 * statement before COMMIT ({@link beforeCommit}). Everything kept is dropped when the commit ends,
 * whether it committed or not: the next commit starts again from the stored rows.
 */
export interface CommitScope {
  /** The value kept under `key` in this commit, if any. */
  get<T>(key: string): T | undefined;
  /** Keeps `value` under `key` until this commit ends. */
  set(key: string, value: unknown): void;
  /**
   * Runs `fn` once (the first registration per `key` wins) after every transaction of this commit
   * has run and before its COMMIT, inside it: a statement failing there fails the whole commit.
   */
  beforeCommit(key: string, fn: (db: Queryable) => Promise<unknown>): void;
  /** Runs `fn` if this transaction rolls back (to its savepoint), latest registered first. */
  onRollback(fn: () => void): void;
}

/**
 * Receives change-feed messages on one channel. `null` means the feed was interrupted
 * (e.g. the PostgreSQL LISTEN connection was lost) and messages may have been missed:
 * drop everything derived from the store.
 */
export type ChangeListener = (payload: string | null) => void;

/** A numbered schema change; ids sort in the order they must run (`0001_…`). */
export interface Migration {
  readonly id: string;
  /** Why the change exists, stored with it. */
  readonly description: string;
  readonly sql: string | { readonly sqlite: string; readonly postgres: string };
}

export interface Store extends Queryable {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Not re-entrant. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Listens to a change-feed channel; returns the function that stops listening. */
  subscribe(channel: string, listener: ChangeListener): () => void;
  /** Applies the migrations not yet applied, in id order, each in its own transaction, once per cluster. */
  migrate(migrations: readonly Migration[]): Promise<string[]>;
  /**
   * Runs the exported function `task.name(db, task.input)` of the module at `task.module` (a file
   * URL) on another thread, with a read-only connection of its own that sees what is committed,
   * and resolves to what it returns (input and result cross as structured clones). For CPU-bound
   * reads such as hashing the audit log back; absent where there is no such thread (PostgreSQL,
   * whose reads wait on the network anyway, and an in-memory SQLite database).
   */
  readOffThread?<I, O>(task: { readonly module: string; readonly name: string; readonly input: I }): Promise<O>;
  close(): Promise<void>;
}

/** Text of a migration for a dialect. */
export function migrationSql(migration: Migration, dialect: Dialect): string {
  return typeof migration.sql === 'string' ? migration.sql : migration.sql[dialect];
}

/** Checks that migration ids are unique and sorted; throws a plain Error (a programming mistake). */
export function assertMigrationOrder(migrations: readonly Migration[]): void {
  for (let i = 1; i < migrations.length; i++) {
    const prev = migrations[i - 1]!.id;
    const cur = migrations[i]!.id;
    if (prev >= cur) throw new Error(`migrations out of order or duplicated: ${prev} before ${cur}`);
  }
}

/** True when `err` is a unique-constraint violation from either adapter. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
