import type { ScanPool } from './pool.js';
import type { Finding, ItemResult } from './types.js';
import type { Task } from './work.js';

/** Progress of a scan, for a progress bar. `totalBytes` is known for directories and buckets. */
export interface Progress {
  readonly items: number;
  readonly bytes: number;
  readonly totalBytes?: number;
}

/** What a source hands back. */
export interface SourceResult {
  readonly findings: Finding[];
  readonly items: number;
  readonly bytes: number;
  readonly skipped: number;
  /** keyturn data directories the scan did not enter (directory scans). */
  readonly skippedDataDirs?: readonly string[];
}

/** Shared by every source: the pool, progress, the clock and the state directory. */
export interface ScanContext {
  readonly pool: ScanPool;
  readonly progress?: (p: Progress) => void;
  /** Incremental scanning when set. */
  readonly stateDir?: string;
  readonly now: () => Date;
}

/**
 * Submits tasks and gathers their results in submission order; `onResult` sees every item
 * (e.g. to map git blobs to paths).
 */
export class Collector {
  readonly #ctx: ScanContext;
  readonly #done: Promise<void>[] = [];
  readonly #onResult: ((r: ItemResult) => void) | undefined;
  readonly findings: Finding[] = [];
  items = 0;
  bytes = 0;
  skipped = 0;
  totalBytes: number | undefined;

  constructor(ctx: ScanContext, onResult?: (r: ItemResult) => void) {
    this.#ctx = ctx;
    this.#onResult = onResult;
  }

  /** Queues a task (waits while the pool's queue is full). */
  async add(task: Task): Promise<void> {
    const { done } = await this.#ctx.pool.submit(task);
    this.#done.push(done.then((results) => this.#take(results)));
  }

  #take(results: ItemResult[]): void {
    for (const r of results) {
      this.items++;
      this.bytes += r.bytes;
      if (r.skipped) this.skipped++;
      if (this.#onResult) this.#onResult(r);
      else this.findings.push(...r.findings);
    }
    this.#ctx.progress?.({ items: this.items, bytes: this.bytes, ...(this.totalBytes === undefined ? {} : { totalBytes: this.totalBytes }) });
  }

  /** Waits for every queued task. */
  async finish(): Promise<SourceResult> {
    await Promise.all(this.#done);
    return { findings: this.findings, items: this.items, bytes: this.bytes, skipped: this.skipped };
  }
}
