import type { Worker } from 'node:worker_threads';
import { KeyturnError, type KeyturnErrorCode } from '../../core/errors.js';
import { startModuleWorker } from '../../core/worker.js';

interface Pending {
  readonly resolve: (output: unknown) => void;
  readonly reject: (err: Error) => void;
}

type Answer = { readonly id: number; readonly output: unknown } | { readonly id: number; readonly error: { message: string; code?: string; keyturn: boolean } };

/** Starts the reader thread (`reader-worker.js` next to this module, or `reader-worker.ts` from sources). */
function startWorker(filename: string): Worker {
  return startModuleWorker(new URL('./reader-worker.js', import.meta.url), import.meta.url, { name: 'keyturn-sqlite-reader', workerData: { filename } });
}

/**
 * A thread with its own read-only connection to an SQLite file, for CPU-bound reads the event loop
 * should not do itself (`Store.readOffThread`). Started on the first task; keeps the process alive
 * only while tasks are pending; a thread that fails or exits refuses what it had, and the next task
 * starts a new one.
 */
export class ReaderThread {
  readonly #filename: string;
  #worker: Worker | undefined;
  #next = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(filename: string) {
    this.#filename = filename;
  }

  run<I, O>(task: { readonly module: string; readonly name: string; readonly input: I }): Promise<O> {
    const worker = this.#ensure();
    const id = ++this.#next;
    if (this.#pending.size === 0) worker.ref();
    return new Promise<O>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (output: unknown) => void, reject });
      worker.postMessage({ id, module: task.module, name: task.name, input: task.input });
    });
  }

  #ensure(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWorker(this.#filename);
    worker.unref();
    worker.on('message', (answer: Answer) => {
      const pending = this.#pending.get(answer.id);
      if (pending === undefined) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      if ('error' in answer) {
        const { message, code, keyturn } = answer.error;
        pending.reject(keyturn && code !== undefined ? new KeyturnError(code as KeyturnErrorCode, message) : Object.assign(new Error(message), code === undefined ? {} : { code }));
      } else {
        pending.resolve(answer.output);
      }
    });
    const failAll = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(err);
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new KeyturnError('ERR_STORE_UNAVAILABLE', `the SQLite reader thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  /** Stops the thread; pending tasks are refused. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    await worker.terminate();
  }
}
