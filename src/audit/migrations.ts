import type { Migration } from '../store/port.js';

/** The events table; only the auto-numbered key differs between the dialects. */
const eventsTable = (seq: string) => `
  CREATE TABLE events (
    ${seq},
    id TEXT NOT NULL UNIQUE,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason TEXT,
    source_ip TEXT,
    request_id TEXT,
    data TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX events_type_time ON events (type, time);
  CREATE INDEX events_target ON events (target);`;

const eventsMigration: Migration = {
  id: '0001_events',
  description: 'append-only audit events; every security-relevant change writes one in its own transaction',
  sql: {
    sqlite: eventsTable('seq INTEGER PRIMARY KEY AUTOINCREMENT'),
    postgres: eventsTable('seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY'),
  },
};

/**
 * The ordered, tamper-evident log (issue 12): `audit_head` hands out the next `seq` under a row lock
 * held to commit, so sequence numbers are gap-free and commit in order on both dialects (see
 * docs/audit.md, "Ordering"); `base_seq` marks where that guarantee starts (rows before it may have
 * gaps left by the old identity column). `audit_leaves` keeps the RFC 9162 leaf hash of every
 * checkpointed record; `audit_checkpoints` keeps each signed checkpoint and the right edge of its
 * tree, so pruning old events leaves what remains verifiable.
 */
const auditLogTables = `
  CREATE TABLE audit_leaves (
    idx BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    root TEXT NOT NULL,
    edge TEXT NOT NULL,
    note TEXT NOT NULL,
    time BIGINT NOT NULL
  );`;

const auditHead = `
  CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    base_seq BIGINT NOT NULL
  );
  INSERT INTO audit_head (id, seq, base_seq) SELECT 1, COALESCE(MAX(seq), 0), COALESCE(MAX(seq), 0) FROM events;`;

const orderedLogMigration: Migration = {
  id: '0160_audit_ordered_log',
  description: 'gap-free commit-ordered event sequence (audit_head), Merkle leaves and signed checkpoints',
  sql: {
    sqlite: `${auditHead}${auditLogTables}`,
    // The identity column numbered rows at insert, not at commit: a reader following after= could
    // pass a number whose transaction had not committed yet. appendEvent now assigns seq itself.
    postgres: `ALTER TABLE events ALTER COLUMN seq DROP IDENTITY;${auditHead}${auditLogTables}`,
  },
};

export const auditMigrations: readonly Migration[] = [eventsMigration, orderedLogMigration];
