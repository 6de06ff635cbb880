import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/**
 * Which file owns each OAuth table (and every other table), and that OAuth SQL never names the
 * tables of principals or keys, is checked for the whole tree by test/arch/ownership.test.ts; this
 * file keeps the OAuth-specific check.
 */
describe('OAuth tables have one owner', () => {
  it('the admin OAuth routes neither open a transaction nor write an event', () => {
    const route = readFileSync(join(root, 'src', 'http', 'routes', 'admin-oauth.ts'), 'utf8');
    expect(route).not.toMatch(/\.transaction\(|appendEvent/);
  });
});
