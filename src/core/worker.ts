import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Worker, WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread running the compiled module at `entry` (a `.js` URL), called from the
 * module at `here` (the caller's `import.meta.url`). From TypeScript sources (tests, tsx: `here`
 * ends in `.ts`) it loads the `.ts` beside `entry` through tsx's CommonJS hook instead, since Node
 * 20 workers do not inherit ESM loader hooks; `workerData.ts` tells the worker which. The module
 * `node:worker_threads` is loaded with the first worker.
 *
 * @example
 * ```ts
 * const worker = startModuleWorker(new URL('./worker.js', import.meta.url), import.meta.url, { workerData: { config } });
 * ```
 */
export function startModuleWorker(entry: URL, here: string, options: WorkerOptions & { workerData?: Record<string, unknown> } = {}): Worker {
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    const api = require.resolve('tsx/cjs/api');
    const source = fileURLToPath(entry).replace(/\.js$/, '.ts');
    const code = `require(${JSON.stringify(api)}).register(); require(${JSON.stringify(source)});`;
    return new Worker(code, { ...options, eval: true, workerData: { ...options.workerData, ts: true } });
  }
  return new Worker(entry, { ...options, workerData: { ...options.workerData, ts: false } });
}
