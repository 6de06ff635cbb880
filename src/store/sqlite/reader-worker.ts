/**
 * The SQLite store's reader thread (see `reader-thread.ts`): one read-only connection to the
 * database file, and the tasks the store hands it — a module URL, the name of a function it
 * exports, and its input. The function gets a {@link Queryable} over this connection (reads only:
 * a write is refused by SQLite) and its result goes back as a structured clone. Tasks run one at a
 * time, in order; an error goes back with its message and, for a keyturn error, its code.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { Queryable } from '../port.js';
import { queryable as sqliteQueryable } from './index.js';

interface Task {
  readonly id: number;
  readonly module: string;
  readonly name: string;
  readonly input: unknown;
}

const { filename, ts } = workerData as { filename: string; ts: boolean };
const db = new Database(filename, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');

const queryable: Queryable = { dialect: 'sqlite', ...sqliteQueryable(db, new Map<string, Database.Statement>()) };

const modules = new Map<string, Record<string, unknown>>();
/** Loads a task's module: imported when compiled; from TypeScript sources through tsx's require hook. */
async function load(url: string): Promise<Record<string, unknown>> {
  let mod = modules.get(url);
  if (mod === undefined) {
    if (ts) {
      let path = fileURLToPath(url);
      if (path.endsWith('.js') && !existsSync(path)) path = `${path.slice(0, -3)}.ts`;
      mod = createRequire(import.meta.url)(path) as Record<string, unknown>;
    } else {
      mod = (await import(url)) as Record<string, unknown>;
    }
    modules.set(url, mod);
  }
  return mod;
}

let queue = Promise.resolve();
parentPort!.on('message', (task: Task) => {
  queue = queue.then(async () => {
    try {
      const fn = (await load(task.module))[task.name];
      if (typeof fn !== 'function') throw new Error(`${task.module} exports no function ${task.name}`);
      const output: unknown = await (fn as (db: Queryable, input: unknown) => Promise<unknown>)(queryable, task.input);
      parentPort!.postMessage({ id: task.id, output });
    } catch (err) {
      const e = err as { message?: unknown; code?: unknown; name?: unknown };
      parentPort!.postMessage({ id: task.id, error: { message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined, keyturn: e?.name === 'KeyturnError' } });
    }
  });
});
