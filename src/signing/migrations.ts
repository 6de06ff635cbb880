import type { Migration } from '../store/port.js';

export const signingMigrations: readonly Migration[] = [
  {
    id: '0005_signing_keys',
    description: 'signing key ring: private halves sealed with the master key; next key published before it signs, retired ones until their last token expires',
    sql: `
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('next', 'active', 'retired')),
        public_jwk TEXT NOT NULL,
        private_sealed TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        activated_at BIGINT,
        retired_at BIGINT,
        publish_until BIGINT
      );
      CREATE INDEX signing_keys_alg_status ON signing_keys (alg, status);`,
  },
];
