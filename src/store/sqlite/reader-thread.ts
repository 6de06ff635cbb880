import { KeyturnError, type KeyturnErrorCode } from '../../core/errors.js';
import { startModuleWorker, WorkerLink } from '../../core/worker.js';

type Answer = { readonly id: number; readonly output: unknown } | { readonly id: number; readonly error: { message: string; code?: string; keyturn: boolean } };

/**
 * A thread with its own read-only connection to an SQLite file, for CPU-bound reads the event loop
 * should not do itself (`Store.readOffThread`). Started on the first task; keeps the process alive
 * only while tasks are pending; a thread that fails or exits refuses what it had, and the next task
 * starts a new one (see {@link WorkerLink}).
 */
export class ReaderThread {
  readonly #link: WorkerLink<Answer>;

  constructor(filename: string) {
    this.#link = new WorkerLink<Answer>(
      () => startModuleWorker(new URL('./reader-worker.js', import.meta.url), import.meta.url, { name: 'keyturn-sqlite-reader', workerData: { filename } }),
      (code) => new KeyturnError('ERR_STORE_UNAVAILABLE', `the SQLite reader thread exited (code ${code})`),
    );
  }

  run<I, O>(task: { readonly module: string; readonly name: string; readonly input: I }): Promise<O> {
    return new Promise<O>((resolve, reject) =>
      this.#link.send(
        (id) => ({ id, module: task.module, name: task.name, input: task.input }),
        (answer) => {
          if (!('error' in answer)) return resolve(answer.output as O);
          const { message, code, keyturn } = answer.error;
          reject(keyturn && code !== undefined ? new KeyturnError(code as KeyturnErrorCode, message) : Object.assign(new Error(message), code === undefined ? {} : { code }));
        },
        reject,
      ),
    );
  }

  /** Stops the thread; pending tasks are refused. */
  close(): Promise<void> {
    return this.#link.close();
  }
}
