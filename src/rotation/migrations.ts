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
  {
    id: '0215_webhook_endpoint_health',
    description: "each webhook endpoint's health (up or down, since when, failed attempts in a row, the last failure's class): the first failure of a healthy endpoint and the first success of a down one are each recorded once",
    // health 'unknown': nothing tried yet. last_error is a class (`HTTP 503`, `timeout`, `unreachable`), never a URL, body or secret.
    sql: `
      ALTER TABLE webhook_endpoints ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'up', 'down'));
      ALTER TABLE webhook_endpoints ADD COLUMN health_since BIGINT;
      ALTER TABLE webhook_endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE webhook_endpoints ADD COLUMN last_error TEXT;
      ALTER TABLE webhook_endpoints ADD COLUMN last_status INTEGER;`,
  },
  {
    id: '0217_webhook_endpoints_client_events',
    description: 'endpoints that asked for every event there was (the default when added) also get the client secret notices added since (client.secret_rotation_due, client.secret_expiring)',
    // Exactly the stored default list of 0130's time: an endpoint that chose fewer keeps its choice.
    sql: `
      UPDATE webhook_endpoints SET event_types = '["key.rotation_due","key.rotated","key.expiring","key.revoked","key.leaked","client.secret_rotation_due","client.secret_expiring"]'
      WHERE event_types = '["key.rotation_due","key.rotated","key.expiring","key.revoked","key.leaked"]';`,
  },
];
