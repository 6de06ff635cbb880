import type { Migration } from '../store/port.js';

export const rotationMigrations: readonly Migration[] = [
  {
    id: '0110_rotation_policies',
    description: 'named lifetime policies, one row per version: a version is never changed, so a credential keeps the rules it was issued under',
    sql: `
      CREATE TABLE rotation_policies (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        spec TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT,
        PRIMARY KEY (name, version)
      );`,
  },
  {
    id: '0130_webhook_endpoints',
    description: "signed webhooks to credential owners: each endpoint's URL, the events it asked for, and its Standard Webhooks secret sealed under the master key (with the previous one during a rotation's overlap)",
    // owner_id NULL: every principal's events. secret / previous_secret: AES-256-GCM under the master
    // key (the same sealing as a scheduled successor), never in clear: HMAC signing needs the key itself.
    sql: `
      CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        owner_id TEXT REFERENCES principals (id),
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('api', 'principal')),
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_until BIGINT,
        status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
        created_at BIGINT NOT NULL,
        created_by TEXT,
        secret_rotated_at BIGINT,
        removed_at BIGINT
      );
      CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id, status);`,
  },
];
