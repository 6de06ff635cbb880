import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, serveBin } from '../support/spawn.js';

const run = (code: string) => execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });

describe('the npm package', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

  it('exports exactly the server library, the verifier and the client (key holder, TLS-session client), and a keyturn bin', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './verifier', './client']);
    expect(pkg.bin).toEqual({ keyturn: 'dist/cli/keyturn.cjs' });
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toBe('>=20.19');
    for (const section of ['dependencies', 'devDependencies']) {
      for (const [name, version] of Object.entries(pkg[section] as Record<string, string>)) expect(`${name}@${version}`).toMatch(/@\d+\.\d+\.\d+$/);
    }
  });

  it('the bin sizes libuv\'s thread pool to the cores (2 to 4) unless UV_THREADPOOL_SIZE says otherwise', async () => {
    // Threads of a running `keyturn serve`: node's own (main, V8 platform, …) plus the pool's.
    // An `undefined` variable is left out of the child's environment (node's child_process).
    const threads = async (env: NodeJS.ProcessEnv): Promise<number> => {
      const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-pool-'));
      const server = await serveBin(['--data-dir', dataDir], env);
      try {
        return readdirSync(`/proc/${server.child.pid}/task`).length;
      } finally {
        await server.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    };
    const [byDefault, one, four] = [await threads({ UV_THREADPOOL_SIZE: undefined }), await threads({ UV_THREADPOOL_SIZE: '1' }), await threads({ UV_THREADPOOL_SIZE: '4' })];
    expect(four - one).toBe(3);
    expect(byDefault - one).toBe(Math.min(4, Math.max(2, availableParallelism())) - 1);
  }, 90_000);

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
