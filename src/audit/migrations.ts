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

export const auditMigrations: readonly Migration[] = [
  {
    id: '0001_events',
    description: 'append-only audit events; every security-relevant change writes one in its own transaction',
    sql: {
      sqlite: eventsTable('seq INTEGER PRIMARY KEY AUTOINCREMENT'),
      postgres: eventsTable('seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY'),
    },
  },
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
];
