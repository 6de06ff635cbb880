import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../support/spawn.js';
import { Fake } from './support/corpus.js';
import { gitIn, initRepo, tempDir, writeTree } from './support/fixtures.js';

// The built CLI (the bin `dist/cli/keyturn.cjs`, built by `npm test`; `scan` starts from the
// bundled `dist/cli/scan-main.js`) is run with a module loader hook that
// records every module it resolves: a local scan must not load the server, a store, fastify,
// pg, SQLite, the AWS SDK, or zod (only `--rules` and `--baseline` files need it).

// zod too: it is most of the start-up of a scan that loads it, and a scan reads no rules or baseline file unless told.
const FORBIDDEN_PACKAGES = /\/node_modules\/(?:fastify|@fastify|pg|pg-[a-z-]+|better-sqlite3|@aws-sdk|@smithy|pino|zod)\//;
const FORBIDDEN_OWN = /\/dist\/(?:runtime|store|http|oauth|keys|audit|signing|rotation|binding|config|leaks\/respond)\/|\/dist\/cli\/(?:serve|admin|keys|principals|clients|signing-keys|watch)\.js$|\/sources\/s3\.js$/;
/** A client command (it talks HTTP) loads no server module and no scanner either. */
const FORBIDDEN_FOR_CLIENT = /\/dist\/(?:runtime|store|http|oauth|audit|signing|rotation|binding|config|leaks)\/|\/dist\/keys\/|\/dist\/cli\/(?:serve|admin|scan|hooks)\.js$/;

describe('what a local scan loads', () => {
  let dir: string;
  let repo: string;
  let log: string;
  let probe: string;

  beforeAll(() => {
    dir = tempDir('keyturn-modules-');
    log = join(dir, 'resolved.txt');
    writeFileSync(
      join(dir, 'hooks.mjs'),
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function resolve(specifier, context, next) {\n' +
        '  const r = await next(specifier, context);\n' +
        "  appendFileSync(process.env.PROBE_LOG, r.url + '\\n');\n" +
        '  return r;\n' +
        '}\n',
    );
    probe = join(dir, 'probe.mjs');
    writeFileSync(probe, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
    repo = join(dir, 'repo');
    writeTree(repo, { 'README.md': '# app\n' });
    initRepo(repo);
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'init');
    const fake = new Fake(1416);
    writeTree(repo, { 'a.env': `GH=${fake.githubClassic()}\n`, 'src/b.ts': 'export const b = 1;\n', 'c.yaml': 'name: c\n' });
    gitIn(repo, 'add', '-A');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const loaded = (...args: string[]): { code: number; modules: string[] } => {
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(probe).href, CLI, ...args], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, PROBE_LOG: log },
    });
    return { code: r.status ?? -1, modules: [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))] };
  };

  for (const args of [['scan', '--staged'], ['scan', '.', '--format', 'json'], ['hooks', '--help']]) {
    it(`keyturn ${args.join(' ')} loads no server, store, HTTP, configuration or AWS module`, () => {
      const { code, modules } = loaded(...args);
      if (args[0] === 'scan') {
        // The scan ran (the staged, and so also the working tree's, GitHub token was found)...
        expect(code).toBe(1);
        // ...from the scan program bundled by the build: one module instead of the CLI's and the scanner's dozens.
        expect(modules.some((m) => m.endsWith('/dist/cli/scan-main.js'))).toBe(true);
        expect(modules.filter((m) => /\/dist\/(?:cli|leaks)\//.test(m) && !/\/dist\/cli\/(?:keyturn\.cjs|scan-main\.js)$/.test(m))).toEqual([]);
      } else {
        expect(code).toBeLessThan(2);
        expect(modules.some((m) => m.endsWith(`/dist/cli/${args[0]}.js`))).toBe(true);
      }
      expect(modules.filter((m) => FORBIDDEN_PACKAGES.test(m) || FORBIDDEN_OWN.test(m))).toEqual([]);
    });
  }

  // First run #10 item 8: a client command starts fast because it loads only the HTTP client and itself.
  for (const args of [['keys', 'list', '--url', 'http://127.0.0.1:9'], ['principals', '--help'], ['clients', 'list', '--url', 'http://127.0.0.1:9']]) {
    it(`keyturn ${args.join(' ')} loads its own group and the HTTP client: no server, store, configuration, zod or scanner module`, () => {
      const { code, modules } = loaded(...args);
      expect(code).toBeLessThan(2);
      expect(modules.some((m) => m.endsWith(`/dist/cli/${args[0]}.js`))).toBe(true);
      expect(modules.some((m) => m.endsWith('/dist/cli/client.js'))).toBe(true);
      expect(modules.filter((m) => FORBIDDEN_PACKAGES.test(m) || FORBIDDEN_FOR_CLIENT.test(m))).toEqual([]);
    });
  }

  it('sees what other commands load (the probe is not blind)', () => {
    const { modules } = loaded('serve', '--help');
    expect(modules.some((m) => m.endsWith('/dist/cli/serve.js'))).toBe(true);
    expect(modules.some((m) => m.includes('/node_modules/zod/'))).toBe(true);
    expect(modules.filter((m) => FORBIDDEN_OWN.test(m)).length).toBeGreaterThan(0);
    const withBaseline = loaded('scan', '--staged', '--baseline', 'missing.json');
    expect(withBaseline.code).toBe(2);
    expect(withBaseline.modules.some((m) => m.includes('/node_modules/zod/'))).toBe(true);
  });
});
