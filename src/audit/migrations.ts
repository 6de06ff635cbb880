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
];
