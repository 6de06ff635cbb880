import type { Migration } from '../store/port.js';

/** Tables of the job runner and the outbox. Only `src/jobs` names them in SQL. */
export const jobMigrations: readonly Migration[] = [
  {
    id: '0030_jobs',
    description: 'named background jobs: when each is next due, and which node holds its run (a lease renewed while it runs)',
    sql: `
      CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        every_ms BIGINT NOT NULL,
        next_run_at BIGINT NOT NULL,
        claim_id TEXT,
        claimed_by TEXT,
        claimed_until BIGINT,
        runs INTEGER NOT NULL DEFAULT 0,
        last_started_at BIGINT,
        last_finished_at BIGINT,
        last_error TEXT
      );`,
  },
  {
    id: '0031_outbox',
    description: 'durable outbox: messages written in the transaction of the change they announce, delivered at least once with retries, and the log of every attempt',
    sql: `
      CREATE TABLE outbox_messages (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        topic TEXT,
        subject TEXT,
        data TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        claim_id TEXT,
        claimed_until BIGINT,
        settled_at BIGINT,
        last_error TEXT
      );
      CREATE INDEX outbox_messages_due ON outbox_messages (status, next_attempt_at);
      CREATE INDEX outbox_messages_subject ON outbox_messages (subject);
      CREATE TABLE outbox_attempts (
        message_id TEXT NOT NULL REFERENCES outbox_messages (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        node TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
        status INTEGER,
        error TEXT,
        PRIMARY KEY (message_id, attempt)
      );`,
  },
];
