import type { Migration } from '../store/port.js';

export const bindingMigrations: readonly Migration[] = [
  {
    id: '0190_binding_dpop_jtis',
    description: 'DPoP proof ids (RFC 9449 section 11.1) seen within their acceptance window, shared by every node, so a proof replayed on another node is refused',
    sql: `
      CREATE TABLE binding_dpop_jtis (
        id TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX binding_dpop_jtis_expiry ON binding_dpop_jtis (expires_at);`,
  },
];
