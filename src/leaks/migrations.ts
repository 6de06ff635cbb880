import type { Migration } from '../store/port.js';

/** Tables of the leak response and the watch jobs. No secret is ever stored: fingerprints only. */
export const leakMigrations: readonly Migration[] = [
  {
    id: '0021_leak_findings',
    description: 'leaked secrets, one row per secret (by SHA-256 fingerprint), and what was done about each',
    sql: `
      CREATE TABLE leak_findings (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        rule TEXT NOT NULL,
        key_id TEXT,
        principal_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('suspended', 'revoked', 'inactive', 'unknown', 'third_party')),
        sightings INTEGER NOT NULL DEFAULT 0,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
      );
      CREATE INDEX leak_findings_key ON leak_findings (key_id);`,
  },
  {
    id: '0022_leak_sightings',
    description: 'where each leaked secret was seen (file, line, commit, URL), deduplicated by place, bounded per finding',
    sql: `
      CREATE TABLE leak_sightings (
        finding_id TEXT NOT NULL REFERENCES leak_findings (id),
        place TEXT NOT NULL,
        via TEXT NOT NULL,
        source TEXT,
        file TEXT,
        line INTEGER,
        col INTEGER,
        commit_id TEXT,
        url TEXT,
        watch_id TEXT,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        PRIMARY KEY (finding_id, place)
      );`,
  },
  {
    id: '0023_leak_watches',
    description: 'scheduled leak scans: claimed once per cluster by a conditional update of claimed_until; incremental state kept here',
    sql: `
      CREATE TABLE leak_watches (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        history INTEGER NOT NULL DEFAULT 0,
        interval_ms BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT,
        next_run_at BIGINT NOT NULL,
        last_run_at BIGINT,
        last_result TEXT,
        runs INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT '{}',
        claimed_by TEXT,
        claimed_until BIGINT
      );
      CREATE INDEX leak_watches_due ON leak_watches (next_run_at);`,
  },
  {
    id: '0060_leak_findings_credentials',
    description: 'which keyturn credential a finding is (API key, client secret, refresh family, access token), why a live one was held, and who acknowledged it',
    // status keeps its CHECK of 0021 (SQLite cannot widen it without turning foreign keys off): a
    // held finding is stored as 'inactive' with held set, and shown as 'held' (findings-store.ts).
    sql: `
      ALTER TABLE leak_findings ADD COLUMN credential_type TEXT;
      ALTER TABLE leak_findings ADD COLUMN credential_id TEXT;
      ALTER TABLE leak_findings ADD COLUMN held TEXT;
      ALTER TABLE leak_findings ADD COLUMN acknowledged_at BIGINT;
      ALTER TABLE leak_findings ADD COLUMN acknowledged_by TEXT;
      UPDATE leak_findings SET credential_type = 'api_key', credential_id = key_id WHERE key_id IS NOT NULL;
      CREATE INDEX leak_findings_credential ON leak_findings (credential_id);`,
  },
];
