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

export const auditMigrations: readonly Migration[] = [
  eventsMigration,
  orderedLogMigration,
  {
    id: '0170_audit_sink_cursors',
    description: 'one durable cursor per audit sink (and for the detection engine): the sequence number delivered up to, whether the sink is up, and when to retry',
    sql: `
      CREATE TABLE audit_sink_cursors (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        position BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'down')),
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL DEFAULT 0,
        down_since BIGINT,
        last_error TEXT,
        delivered BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL
      );`,
  },
  {
    id: '0171_usage_records',
    description: 'successful uses of a credential, aggregated: one row per credential, source network and interval (last used, used from)',
    sql: `
      CREATE TABLE usage_records (
        credential_id TEXT NOT NULL,
        network TEXT NOT NULL,
        interval_start BIGINT NOT NULL,
        count BIGINT NOT NULL,
        first_at BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        PRIMARY KEY (credential_id, network, interval_start)
      );
      CREATE INDEX usage_records_last ON usage_records (credential_id, last_at);`,
  },
  {
    id: '0220_audit_sinks',
    description: 'audit sinks created through the admin API: settings as JSON, any secret sealed under the master key (beside the config-file sinks)',
    sql: `
      CREATE TABLE audit_sinks (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        settings TEXT NOT NULL,
        secret TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        created_at BIGINT NOT NULL,
        created_by TEXT,
        updated_at BIGINT NOT NULL
      );`,
  },
];
