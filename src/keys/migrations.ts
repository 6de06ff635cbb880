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
  {
    id: '0111_api_keys_rotation',
    description: 'rotation: the policy a key names and the version it was issued under, its predecessor, when it is due, its deadline and grace end, and a sealed successor waiting for pick-up',
    // rotate_at: due for scheduled rotation; deadline_at: its maximum age; grace_ends_at: set when
    // it is rotating; pickup: on a successor issued by the scheduler, its secret sealed under the
    // master key until the holder collects it (then NULL); flagged_at: a soft deadline reported.
    sql: `
      ALTER TABLE api_keys ADD COLUMN policy TEXT;
      ALTER TABLE api_keys ADD COLUMN policy_name TEXT;
      ALTER TABLE api_keys ADD COLUMN policy_version INTEGER;
      ALTER TABLE api_keys ADD COLUMN predecessor_id TEXT;
      ALTER TABLE api_keys ADD COLUMN rotate_at BIGINT;
      ALTER TABLE api_keys ADD COLUMN deadline_at BIGINT;
      ALTER TABLE api_keys ADD COLUMN deadline TEXT NOT NULL DEFAULT 'hard';
      ALTER TABLE api_keys ADD COLUMN grace_ends_at BIGINT;
      ALTER TABLE api_keys ADD COLUMN pickup TEXT;
      ALTER TABLE api_keys ADD COLUMN flagged_at BIGINT;
      CREATE INDEX api_keys_rotate_at ON api_keys (rotate_at) WHERE status = 'active' AND rotate_at IS NOT NULL;
      CREATE INDEX api_keys_grace_ends ON api_keys (grace_ends_at) WHERE status = 'rotating';
      CREATE INDEX api_keys_deadline ON api_keys (deadline_at) WHERE deadline_at IS NOT NULL AND flagged_at IS NULL;
      CREATE INDEX api_keys_predecessor ON api_keys (predecessor_id) WHERE predecessor_id IS NOT NULL;
      CREATE INDEX api_keys_policy ON api_keys (policy_name, policy_version) WHERE policy_name IS NOT NULL;`,
  },
  {
    id: '0131_api_keys_notices',
    description: "which deadline each key's owner was told about (key.rotation_due, key.expiring webhooks): once per key per deadline, however many nodes run the scheduler",
    // due_noticed_at: the rotate_at the owner was told of; expiry_noticed_at: the end (expiry or maximum age) told of.
    sql: `
      ALTER TABLE api_keys ADD COLUMN due_noticed_at BIGINT;
      ALTER TABLE api_keys ADD COLUMN expiry_noticed_at BIGINT;
      CREATE INDEX api_keys_expires_at ON api_keys (expires_at) WHERE expires_at IS NOT NULL AND expiry_noticed_at IS NULL;`,
  },
  {
    id: '0141_api_keys_pickup_by',
    description: "who may collect a sealed successor: its holder with the old key (`holder`, scheduled rotation) or only an administrator (`admin`: the old key leaked or a person who saw it left)",
    sql: "ALTER TABLE api_keys ADD COLUMN pickup_by TEXT NOT NULL DEFAULT 'holder' CHECK (pickup_by IN ('holder', 'admin'));",
  },
  {
    id: '0181_api_keys_binding',
    description: 'where an API key may be used from: source networks and/or a client certificate thumbprint (JSON; NULL: anywhere)',
    sql: 'ALTER TABLE api_keys ADD COLUMN binding TEXT;',
  },
];
