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

/** Where a {@link WorkerLink} sends one request's answer, or why it never came. */
interface Pending<A> {
  readonly answer: (answer: A) => void;
  readonly fail: (err: Error) => void;
}

/**
 * Requests to a worker thread and their answers, matched by id: the worker is started by the first
 * request (`start`), keeps the process alive only while requests are pending, and answers each
 * message it is sent with one message carrying the same `id`. If it fails or exits, every pending
 * request fails with the cause (`lost` names an exit) and the next request starts a new worker;
 * {@link generation} tells its users that state they sent the old one is gone.
 *
 * @example
 * ```ts
 * const link = new WorkerLink<{ id: number; sum: number }>(() => startModuleWorker(url, import.meta.url), (code) => new Error(`exited (${code})`));
 * link.send((id) => ({ id, numbers: [1, 2] }), (a) => console.log(a.sum), (err) => console.error(err));
 * ```
 */
export class WorkerLink<A extends { readonly id: number }> {
  readonly #start: () => Worker;
  readonly #lost: (code: number) => Error;
  #worker: Worker | undefined;
  #generation = 0;
  #next = 0;
  readonly #pending = new Map<number, Pending<A>>();

  constructor(start: () => Worker, lost: (code: number) => Error) {
    this.#start = start;
    this.#lost = lost;
  }

  /** Counts the workers started: it changes when a new worker replaces one that failed. */
  get generation(): number {
    this.#ensure();
    return this.#generation;
  }

  /** Sends `build(id)` to the worker (started if need be); `answer` gets its answer, `fail` the worker's failure. */
  send(build: (id: number) => unknown, answer: (answer: A) => void, fail: (err: Error) => void): void {
    const worker = this.#ensure();
    const id = ++this.#next;
    if (this.#pending.size === 0) worker.ref();
    this.#pending.set(id, { answer, fail });
    worker.postMessage(build(id));
  }

  #ensure(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = this.#start();
    worker.unref();
    worker.on('message', (answer: A) => {
      const pending = this.#pending.get(answer.id);
      if (pending === undefined) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      pending.answer(answer);
    });
    const failAll = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.fail(err);
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(this.#lost(code)));
    this.#worker = worker;
    this.#generation++;
    return worker;
  }

  /** Stops the worker; pending requests fail, and the next one starts a new worker. */
  async close(): Promise<void> {
    await this.#worker?.terminate();
  }
}
