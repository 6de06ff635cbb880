import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/spawn.js';

const run = (code: string) => execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });

describe('the npm package', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

  it('exports exactly the server library, the verifier and the client (key holder, TLS-session client), and a keyturn bin', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './verifier', './client']);
    expect(pkg.bin).toEqual({ keyturn: 'dist/cli/main.js' });
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toBe('>=20.19');
    for (const section of ['dependencies', 'devDependencies']) {
      for (const [name, version] of Object.entries(pkg[section] as Record<string, string>)) expect(`${name}@${version}`).toMatch(/@\d+\.\d+\.\d+$/);
    }
  });

  it('resolves keyturn and keyturn/verifier through its exports (built dist)', () => {
    const out = run(
      "const k = await import('keyturn'); const v = await import('keyturn/verifier'); console.log(typeof k.startServer, typeof k.parseSecret, typeof v.createVerifier, typeof v.expressMiddleware)",
    );
    expect(out.trim()).toBe('function function function function');
  });

  it('resolves keyturn/client through its exports (built dist): the key holder and the TLS-session client', () => {
    const out = run(
      "const c = await import('keyturn/client'); console.log(typeof c.createKeyHolder, typeof c.writeFileAtomic, typeof c.SessionClient, typeof c.exporterDigestOf)",
    );
    expect(out.trim()).toBe('function function function function');
  });
});
