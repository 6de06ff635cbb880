// After `tsc`, two bundles, each written over the file tsc emitted (so a later plain `tsc` puts
// the unbundled module back, never a stale bundle):
//
// 1. dist/leaks/scan/rules/index.js (which imports ~90 one-provider modules) becomes one module
//    holding all of them. The rule modules import nothing at run time but each other (types only
//    from elsewhere), so the bundle carries no second copy of any stateful module; anything
//    outside rules/ stays an import (external).
// 2. dist/cli/scan-main.js (the entry of `keyturn scan`) becomes one module holding commander,
//    the CLI's program and the scanner: a pre-commit hook's `scan --staged` loads 3 modules
//    instead of ~35. Kept as imports: what is loaded lazily (other command groups, the S3
//    source, the rules and baseline file readers with zod, the HTTP client of `--respond`) at
//    its path relative to the bundle, and core/errors.js, so that those modules throw the same
//    `KeyturnError` class the bundled CLI checks with `instanceof`. The scan pool's worker is
//    started from dist/leaks/scan/worker.js as before.
//
// Measured: `keyturn scan --staged` uses ~25 ms less CPU per process with (1); (2): README, leak watch.
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const common = { bundle: true, allowOverwrite: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' };

const rules = resolve(dist, 'leaks/scan/rules/index.js');
if (!existsSync(rules)) throw new Error(`bundle-rules: ${rules} is missing; run tsc first`);
await build({
  ...common,
  entryPoints: [rules],
  outfile: rules,
  plugins: [
    {
      name: 'only-rules',
      setup(b) {
        // Keep every import that leaves the rules folder an import.
        b.onResolve({ filter: /^\.\.\// }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});

const scanMain = resolve(dist, 'cli/scan-main.js');
if (!existsSync(scanMain)) throw new Error(`bundle-rules: ${scanMain} is missing; run tsc first`);
/** Modules the scan program imports lazily but always needs: bundled like static imports. */
const ALWAYS = new Set(['cli/program.js', 'cli/scan.js'].map((p) => resolve(dist, p)));
/** Kept as a module of its own: the one error class every module must share. */
const SHARED = new Set(['core/errors.js'].map((p) => resolve(dist, p)));
const POOL = resolve(dist, 'leaks/scan/pool.js');
const WORKER_URL = "new URL('./worker.js', here)";
await build({
  ...common,
  entryPoints: [scanMain],
  outfile: scanMain,
  // commander is CommonJS: its require() of node's modules needs a require in an ES module.
  banner: { js: "import { createRequire as __keyturnRequire } from 'node:module';\nconst require = __keyturnRequire(import.meta.url);" },
  plugins: [
    {
      name: 'scan-program',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined;
          if (args.path.startsWith('.')) {
            const target = resolve(args.resolveDir, args.path);
            if (!SHARED.has(target) && (args.kind !== 'dynamic-import' || ALWAYS.has(target))) return undefined;
            const path = relative(dirname(scanMain), target);
            return { path: path.startsWith('.') ? path : `./${path}`, external: true };
          }
          // commander is bundled; node's modules and every other package (loaded lazily) stay imports.
          return args.path === 'commander' || args.kind === 'require-call' ? undefined : { path: args.path, external: true };
        });
        // The pool starts its worker from the file beside it; from the bundle that is ../leaks/scan/.
        b.onLoad({ filter: /[\\/]leaks[\\/]scan[\\/]pool\.js$/ }, (args) => {
          if (args.path !== POOL) return undefined;
          const text = readFileSync(args.path, 'utf8');
          if (!text.includes(WORKER_URL)) throw new Error(`bundle-rules: ${POOL} no longer starts its worker with ${WORKER_URL}`);
          const worker = relative(dirname(scanMain), resolve(dist, 'leaks/scan/worker.js'));
          return { contents: text.replace(WORKER_URL, `new URL(${JSON.stringify(worker)}, here)`), loader: 'js' };
        });
      },
    },
  ],
});
