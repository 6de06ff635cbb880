import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  crossCapabilityViolations,
  httpEdgeViolations,
  root,
  sources,
  sqlOf,
  stringLiterals,
  tableOwnerViolations,
  tablesFromMigrations,
  type Source,
} from './rules.js';

/**
 * The one module (file) that reads and writes each table; every other module calls its exported
 * functions. A table created by a migration but missing here fails the test, so a new table gets
 * an owner when it is made.
 */
const OWNERS: Readonly<Record<string, string>> = {
  api_keys: 'src/keys/service.ts',
  principals: 'src/principals/service.ts',
  exposures: 'src/principals/service.ts',
  offboardings: 'src/principals/offboarding.ts',
  offboarding_steps: 'src/principals/offboarding.ts',
  oauth_clients: 'src/oauth/clients.ts',
  oauth_grants: 'src/oauth/refresh-tokens.ts',
  binding_dpop_jtis: 'src/binding/dpop-service.ts',
  oauth_refresh_tokens: 'src/oauth/refresh-tokens.ts',
  oauth_access_tokens: 'src/oauth/access-tokens.ts',
  oauth_assertion_jtis: 'src/oauth/client-auth.ts',
  oauth_token_lineage: 'src/oauth/lineage.ts',
  signing_keys: 'src/signing/ring.ts',
  jobs: 'src/jobs/runner.ts',
  outbox_messages: 'src/jobs/outbox.ts',
  outbox_attempts: 'src/jobs/outbox.ts',
  events: 'src/audit/events.ts',
  audit_head: 'src/audit/events.ts',
  audit_leaves: 'src/audit/log.ts',
  audit_checkpoints: 'src/audit/log.ts',
  audit_sink_cursors: 'src/audit/sinks/cursor.ts',
  audit_sinks: 'src/audit/sinks/registry.ts',
  usage_records: 'src/audit/usage.ts',
  leak_findings: 'src/leaks/respond/findings-store.ts',
  leak_sightings: 'src/leaks/respond/findings-store.ts',
  leak_watches: 'src/leaks/watch.ts',
  rotation_policies: 'src/rotation/policies.ts',
  webhook_endpoints: 'src/rotation/webhooks.ts',
};

const tree = sources();
const creators = tablesFromMigrations(tree);

describe('every table has one owner', () => {
  it('every table a migration creates has an owner file in the capability that creates it', () => {
    expect(creators.size).toBeGreaterThan(10);
    expect(Object.keys(OWNERS).sort()).toEqual([...creators.keys()].sort());
    for (const [table, owner] of Object.entries(OWNERS)) {
      expect(owner.startsWith(`src/${creators.get(table)}/`), `${table} is created by ${creators.get(table)}`).toBe(true);
      expect(existsSync(join(root, owner)), owner).toBe(true);
      expect(sqlOf(tree.find((s) => s.file === owner)!.text).join('\n'), `${owner} uses ${table}`).toMatch(new RegExp(`\\b${table}\\b`));
    }
  });

  it('a table is named in SQL only by its owner (and the migrations that create it)', () => {
    expect(tableOwnerViolations(tree, OWNERS, creators)).toEqual([]);
  });

  it('reads the SQL of template literals, and not comments, regex literals or prose', () => {
    const text = [
      '// SELECT * FROM api_keys in a comment',
      "const re = /'/; const n = 1 / 2; const s = 'it\\'s';",
      'await tx.run(`UPDATE api_keys SET x = ${cols.join(", ")} WHERE id = ?`, [id]);',
      '/* DELETE FROM principals */ const msg = "no principals here";',
    ].join('\n');
    expect(sqlOf(text)).toEqual(['UPDATE api_keys SET x = ${cols.join(", ")} WHERE id = ?']);
    expect(stringLiterals(text)).toContain('no principals here');
  });

  it('catches a planted violation: SQL naming api_keys outside src/keys/service.ts', () => {
    const planted: Source[] = [
      { file: 'src/oauth/planted.ts', text: "export const q = (db) => db.get('SELECT * FROM api_keys WHERE id = ?', ['k']);\n" },
      { file: 'src/keys/service.ts', text: "db.get('SELECT * FROM api_keys WHERE id = ?', ['k']);\n" },
    ];
    expect(tableOwnerViolations(planted, OWNERS, creators)).toEqual(['src/oauth/planted.ts names api_keys in SQL (owner: src/keys/service.ts)']);
  });

  it('lets a migration name another capability’s table only in a foreign key', () => {
    const fk: Source = { file: 'src/keys/migrations.ts', text: '`CREATE TABLE t (p TEXT REFERENCES principals (id))`' };
    const write: Source = { file: 'src/keys/migrations.ts', text: "'UPDATE principals SET status = 1'" };
    expect(tableOwnerViolations([fk], OWNERS, creators)).toEqual([]);
    expect(tableOwnerViolations([write], OWNERS, creators)).toEqual(['src/keys/migrations.ts names principals in SQL (owner: src/principals/service.ts)']);
  });
});

describe('capability folders talk through public entries', () => {
  it('one capability imports another only through its index.ts (core excepted)', () => {
    expect(crossCapabilityViolations(tree)).toEqual([]);
  });

  it('every capability folder has a public entry', () => {
    const present = CAPABILITIES.filter((cap) => cap !== 'core' && existsSync(join(root, 'src', cap)));
    expect(present.filter((cap) => !existsSync(join(root, 'src', cap, 'index.ts')))).toEqual([]);
  });

  it('catches planted violations, type-only and dynamic imports included; core and own-folder imports pass', () => {
    const planted: Source[] = [
      { file: 'src/oauth/planted.ts', text: "import { KeyService } from '../keys/service.js';\n" },
      { file: 'src/oauth/grants/planted.ts', text: "import type { Principal } from '../../principals/service.js';\n" },
      { file: 'src/leaks/respond/planted.ts', text: "const m = await import('../../signing/ring.js');\n" },
      { file: 'src/keys/planted.ts', text: "import { KeyService } from './service.js';\nimport { newId } from '../core/ids.js';\nimport { appendEvent } from '../audit/index.js';\n" },
      { file: 'src/http/planted.ts', text: "import { KeyService } from '../keys/service.js';\n" },
    ];
    expect(crossCapabilityViolations(planted)).toEqual([
      'src/oauth/planted.ts imports ../keys/service.js (use ../keys/index.js)',
      'src/oauth/grants/planted.ts imports ../../principals/service.js (use ../principals/index.js)',
      'src/leaks/respond/planted.ts imports ../../signing/ring.js (use ../signing/index.js)',
    ]);
  });
});

describe('the HTTP edge holds services only', () => {
  it('no file of src/http reaches the store, the runtime, events, transactions or raw channels', () => {
    expect(httpEdgeViolations(tree)).toEqual([]);
  });

  it('catches a planted route importing the store port', () => {
    const planted: Source = { file: 'src/http/routes/planted.ts', text: "import type { Store } from '../../store/port.js';\nexport const route = (s: Store) => s;\n" };
    expect(httpEdgeViolations([planted])).toEqual(['src/http/routes/planted.ts imports ../../store/port.js', 'src/http/routes/planted.ts reads the store']);
  });
});
