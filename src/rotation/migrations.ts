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
];
