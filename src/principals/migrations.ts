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
  {
    id: '0140_offboardings',
    description: 'offboarding as a durable job: the plan recorded when it starts, one row per step with its done marker, so a crash resumes without doing a step twice',
    // offboardings: one per principal (UNIQUE: a person is offboarded once). offboarding_steps: the
    // plan in order; done_at is set in the transaction that does the step (claimed conditionally),
    // outcome/result say what it did (`done`, or `skipped` when the credential changed since).
    sql: `
      CREATE TABLE offboardings (
        id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL UNIQUE REFERENCES principals (id),
        transfer_to TEXT REFERENCES principals (id),
        status TEXT NOT NULL CHECK (status IN ('running', 'done')),
        steps INTEGER NOT NULL,
        requested_by TEXT,
        created_at BIGINT NOT NULL,
        finished_at BIGINT
      );
      CREATE INDEX offboardings_running ON offboardings (status) WHERE status = 'running';
      CREATE TABLE offboarding_steps (
        offboarding_id TEXT NOT NULL REFERENCES offboardings (id),
        seq INTEGER NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        done_at BIGINT,
        outcome TEXT CHECK (outcome IN ('done', 'skipped')),
        result TEXT,
        PRIMARY KEY (offboarding_id, seq)
      );
      CREATE INDEX offboarding_steps_pending ON offboarding_steps (offboarding_id, seq) WHERE done_at IS NULL;
      CREATE INDEX exposures_credential ON exposures (credential_type, credential_id);`,
  },
];
