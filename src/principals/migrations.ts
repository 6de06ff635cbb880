import type { Migration } from '../store/port.js';

export const principalMigrations: readonly Migration[] = [
  {
    id: '0002_principals',
    description: 'who credentials act for: people (user) and workloads (service)',
    sql: `
      CREATE TABLE principals (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('user', 'service')),
        name TEXT NOT NULL UNIQUE,
        email TEXT,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'offboarded')),
        created_at BIGINT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
      );`,
  },
  {
    id: '0003_exposures',
    description: 'which person saw which secret (created or revealed it): offboarding rotates them all',
    sql: `
      CREATE TABLE exposures (
        id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL REFERENCES principals (id),
        credential_type TEXT NOT NULL,
        credential_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('created', 'revealed')),
        at BIGINT NOT NULL
      );
      CREATE INDEX exposures_principal ON exposures (principal_id);`,
  },
  {
    id: '0020_principal_webhooks',
    description: 'where leak notifications for a principal are POSTed (optional)',
    sql: 'ALTER TABLE principals ADD COLUMN webhook_url TEXT;',
  },
  {
    id: '0112_principal_policy',
    description: "the lifetime policy a principal's keys follow unless a key names its own (NULL: the deployment default)",
    sql: 'ALTER TABLE principals ADD COLUMN policy TEXT;',
  },
];
