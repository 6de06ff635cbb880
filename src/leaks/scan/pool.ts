import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { KeyturnError } from '../../core/errors.js';
import { startModuleWorker } from '../../core/worker.js';
import { compileEngine, type CompiledEngine } from './detect.js';
import type { EngineConfig, ItemResult } from './types.js';
import { runTask, taskBytes, type Task } from './work.js';

/** Options of a {@link ScanPool}. */
export interface PoolOptions {
  /**
   * Worker threads; 0 scans on the calling thread only. Default: one per core but one, since the
   * calling thread scans too whenever the workers' queues are full (so every core scans).
   */
  readonly threads?: number;
  /**
   * Work up to this many bytes runs on the calling thread before any worker starts (small scans
   * stay cheap); past it, the calling thread also scans while the workers are still starting.
   * 0: everything runs on the workers. Bytes as the task declares them: a directory listed
   * without `lstat` counts its files by an estimate (see `sources/fs.ts`).
   */
  readonly inlineBytes?: number;
  /** Tasks in flight per thread before {@link ScanPool.submit} waits: bounds memory. */
  readonly queuePerThread?: number;
}

interface Slot {
  readonly worker: Worker;
  busy: number;
  /** The worker has compiled its engine and answers tasks. */
  ready: boolean;
}

interface Pending {
  readonly resolve: (results: ItemResult[]) => void;
  readonly reject: (err: Error) => void;
  readonly slot: Slot;
}

/** Starts a scanning thread (`worker.js` next to this module, or `worker.ts` from sources). */
function startWorker(config: EngineConfig): Worker {
  // Loaded with the first worker: a small scan (a pre-commit hook's) runs on this thread alone.
  const here = import.meta.url;
  // The bundled scan program rewrites this URL (scripts/bundle-rules.mjs): keep its text.
  return startModuleWorker(new URL('./worker.js', here), here, { workerData: { config } });
}

/**
 * A pool of scanning threads with bounded queues. Results come back per task; the caller
 * awaits {@link submit}'s returned promise for them. `submit` itself waits while the queue is
 * full, so producers never read far ahead of the scanners.
 *
 * @example
 * ```ts
 * const pool = new ScanPool(config);
 * const results = await (await pool.submit({ type: 'buffers', items })).done;
 * await pool.close();
 * ```
 */
export class ScanPool {
  readonly #config: EngineConfig;
  readonly #threads: number;
  readonly #inlineBytes: number;
  readonly #limit: number;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #waiters: (() => void)[] = [];
  #engine: CompiledEngine | undefined;
  #nextId = 1;
  #inlineUsed = 0;
  #failure: Error | undefined;

  constructor(config: EngineConfig, options: PoolOptions = {}) {
    this.#config = config;
    this.#threads = Math.max(0, options.threads ?? availableParallelism() - 1);
    this.#inlineBytes = options.inlineBytes ?? 256 * 1024;
    this.#limit = Math.max(1, options.queuePerThread ?? 4);
  }

  /** The engine compiled on this thread (for inline work and the stdin source). */
  get engine(): CompiledEngine {
    this.#engine ??= compileEngine(this.#config);
    return this.#engine;
  }

  /**
   * Queues `task`; resolves (after waiting for queue room) to `{ done }`, the promise of its results.
   */
  async submit(task: Task): Promise<{ done: Promise<ItemResult[]> }> {
    if (this.#failure) throw this.#failure;
    const bytes = taskBytes(task);
    if (this.#threads === 0 || this.#inlineUsed + bytes <= this.#inlineBytes) {
      this.#inlineUsed += bytes;
      return { done: Promise.resolve(runTask(this.engine, task)) };
    }
    this.#ensureWorkers();
    // Let worker messages (ready, results) in before choosing: inline work below is synchronous.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#failure) throw this.#failure;
    let slot = this.#leastBusy();
    // While no worker has started yet (module loading, engine compilation), or while every
    // worker's queue is full, this thread scans instead of waiting: start-up overlaps with
    // useful work and the calling thread is one more scanner.
    if (this.#inlineBytes > 0 && (!slot.ready || slot.busy >= this.#limit)) {
      this.#inlineUsed += bytes;
      return { done: Promise.resolve(runTask(this.engine, task)) };
    }
    while (slot.busy >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      if (this.#failure) throw this.#failure;
      slot = this.#leastBusy();
    }
    const id = this.#nextId++;
    slot.busy++;
    const done = new Promise<ItemResult[]>((resolve, reject) => this.#pending.set(id, { resolve, reject, slot }));
    const transfer = task.type === 'buffers' ? uniqueBuffers(task) : [];
    slot.worker.postMessage({ id, task }, transfer);
    return { done };
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
    this.#slots.length = 0;
  }

  /** The ready slot with the fewest tasks in flight (a starting one when none is ready). */
  #leastBusy(): Slot {
    let best: Slot | undefined;
    for (const s of this.#slots) {
      if (best === undefined || (s.ready && !best.ready) || (s.ready === best.ready && s.busy < best.busy)) best = s;
    }
    if (!best) throw new KeyturnError('ERR_INTERNAL', 'scan pool has no threads');
    return best;
  }

  #ensureWorkers(): void {
    while (this.#slots.length < this.#threads) {
      const slot: Slot = { worker: startWorker(this.#config), busy: 0, ready: false };
      slot.worker.on('message', (msg: { id: number; ready?: boolean; results?: ItemResult[]; error?: string }) => {
        if (msg.ready) {
          slot.ready = true;
          this.#waiters.shift()?.();
        } else this.#settle(msg);
      });
      slot.worker.on('error', (err) => this.#fail(err));
      this.#slots.push(slot);
    }
  }

  #settle(msg: { id: number; results?: ItemResult[]; error?: string }): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    p.slot.busy--;
    if (msg.results) p.resolve(msg.results);
    else p.reject(new KeyturnError('ERR_INTERNAL', `scan worker failed: ${msg.error ?? 'unknown error'}`));
    this.#waiters.shift()?.();
  }

  #fail(err: Error): void {
    this.#failure = new KeyturnError('ERR_INTERNAL', `scan worker crashed: ${err.message}`, { cause: err });
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
    for (const w of this.#waiters.splice(0)) w();
  }
}

function uniqueBuffers(task: Extract<Task, { type: 'buffers' }>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const item of task.items) {
    const buf = item.data.buffer;
    // Only whole, unshared buffers can be transferred; pooled Node buffers are copied.
    if (buf instanceof ArrayBuffer && item.data.byteOffset === 0 && item.data.byteLength === buf.byteLength) seen.add(buf);
  }
  return [...seen];
}
