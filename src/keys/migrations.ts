import type { Migration } from '../store/port.js';

export const keyMigrations: readonly Migration[] = [
  {
    id: '0004_api_keys',
    description: 'API keys: only the SHA-256 digest of each secret is kept; lookup is by digest',
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL REFERENCES principals (id),
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        start TEXT NOT NULL,
        last4 TEXT NOT NULL,
        scopes TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'rotating', 'suspended', 'retired', 'revoked')),
        created_at BIGINT NOT NULL,
        created_by TEXT,
        expires_at BIGINT,
        revoked_at BIGINT,
        metadata TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX api_keys_principal ON api_keys (principal_id);`,
  },
  {
    id: '0040_api_keys_live_name',
    description: "an owner's active and suspended keys have distinct names; older duplicates are renamed",
    // Keeps the newest key's name; an older live key of the same name becomes `name (key_…)`.
    sql: `
      UPDATE api_keys SET name = name || ' (' || id || ')'
       WHERE status IN ('active', 'suspended')
         AND EXISTS (SELECT 1 FROM api_keys o
                      WHERE o.principal_id = api_keys.principal_id AND o.name = api_keys.name
                        AND o.status IN ('active', 'suspended') AND o.id > api_keys.id);
      CREATE UNIQUE INDEX api_keys_live_name ON api_keys (principal_id, name) WHERE status IN ('active', 'suspended');`,
  },
];
