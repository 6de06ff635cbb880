import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const oauthDir = join(root, 'src', 'oauth');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The SQL string literals of a file (quoted or template), comments left out. */
function sql(file: string): string {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
  return [...text.matchAll(/(['"`])((?:\\.|(?!\1)[\s\S])*?\b(?:SELECT|INSERT|UPDATE|DELETE|CREATE)\b(?:\\.|(?!\1)[\s\S])*?)\1/g)].map((m) => m[2]).join('\n');
}

/** Each OAuth table and the one module (besides the migrations that create it) whose SQL may name it. */
const OWNERS: Record<string, string> = {
  oauth_access_tokens: 'src/oauth/access-tokens.ts',
  oauth_grants: 'src/oauth/refresh-tokens.ts',
  oauth_refresh_tokens: 'src/oauth/refresh-tokens.ts',
  oauth_clients: 'src/oauth/clients.ts',
  oauth_assertion_jtis: 'src/oauth/client-auth.ts',
};

describe('OAuth tables have one owner', () => {
  const sources = files(oauthDir).filter((f) => !f.endsWith('migrations.ts'));

  it('finds the SQL it checks', () => {
    expect(sql(join(oauthDir, 'access-tokens.ts'))).toMatch(/INSERT INTO oauth_access_tokens/);
  });

  it.each(Object.entries(OWNERS))('%s is named in SQL only by %s', (table, owner) => {
    const offenders = sources.filter((f) => relative(root, f) !== owner && new RegExp(`\\b${table}\\b`).test(sql(f))).map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('OAuth SQL never names the tables of principals or keys (it calls their modules)', () => {
    const offenders = sources.filter((f) => /\b(principals|api_keys)\b/.test(sql(f))).map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('the admin OAuth routes neither open a transaction nor write an event', () => {
    const route = readFileSync(join(root, 'src', 'http', 'routes', 'admin-oauth.ts'), 'utf8');
    expect(route).not.toMatch(/\.transaction\(|appendEvent/);
  });
});
