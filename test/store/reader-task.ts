/** Tasks for `reader-thread.test.ts`, run on the SQLite store's reader thread. */
import { threadId } from 'node:worker_threads';
import { KeyturnError } from '../../src/core/errors.js';
import type { Queryable } from '../../src/store/port.js';

export async function countAbove(db: Queryable, input: { min: number }): Promise<{ count: number; threadId: number }> {
  const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM things WHERE v > ?', [input.min]);
  return { count: Number(row?.n ?? 0), threadId };
}

export async function refuse(): Promise<never> {
  throw new KeyturnError('ERR_NOT_FOUND', 'nothing here');
}

export async function write(db: Queryable): Promise<number> {
  return (await db.run('INSERT INTO things (v) VALUES (?)', [1])).changes;
}
