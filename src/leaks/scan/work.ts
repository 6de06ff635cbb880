import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { detect, type CompiledEngine } from './detect.js';
import type { ItemResult } from './types.js';

/** How many leading bytes are checked for a NUL byte to call a file binary (as git does). */
const BINARY_PROBE = 8000;

/** True when the first bytes hold a NUL byte. */
export function looksBinary(data: Uint8Array): boolean {
  return data.subarray(0, Math.min(data.length, BINARY_PROBE)).indexOf(0) !== -1;
}

/** Scans one buffer: skips binary and oversized data, decodes UTF-8, detects. */
export function scanBuffer(engine: CompiledEngine, name: string, data: Uint8Array): ItemResult {
  if (data.length > engine.maxFileBytes) return { name, bytes: data.length, skipped: 'too-large', findings: [] };
  if (looksBinary(data)) return { name, bytes: data.length, skipped: 'binary', findings: [] };
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  return { name, bytes: data.length, findings: detect(engine, text, name) };
}

/** Files up to this size are read into one reused buffer per thread (no fresh pages per file). */
const SCRATCH_MAX = 4 * 1024 * 1024;
let scratch: Buffer | undefined;

function readBuffer(size: number): Buffer {
  if (size > SCRATCH_MAX) return Buffer.allocUnsafeSlow(size);
  if (!scratch || scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, Math.max(size, 256 * 1024)));
  return scratch;
}

/**
 * Reads a whole file through one descriptor (one `fstat`, no second path lookup). Small files
 * land in a reused per-thread buffer, valid until the next read: callers decode it at once.
 * No `data` when over `max` bytes.
 */
function readWhole(path: string, max: number): { size: number; data?: Uint8Array } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > max) return { size };
    const buf = readBuffer(size);
    let n = 0;
    while (n < size) {
      const got = readSync(fd, buf, n, size - n, null);
      if (got === 0) break;
      n += got;
    }
    return { size, data: buf.subarray(0, n) };
  } finally {
    closeSync(fd);
  }
}

/** Reads and scans one file; an unreadable file is reported as skipped, not thrown. */
export function scanFile(engine: CompiledEngine, path: string, name: string): ItemResult {
  try {
    const { size, data } = readWhole(path, engine.maxFileBytes);
    if (!data) return { name, bytes: size, skipped: 'too-large', findings: [] };
    return scanBuffer(engine, name, data);
  } catch {
    return { name, bytes: 0, skipped: 'unreadable', findings: [] };
  }
}

/** A unit of work for a pool thread. */
export type Task =
  | { readonly type: 'files'; readonly files: readonly { readonly path: string; readonly name: string; readonly size: number }[] }
  | { readonly type: 'buffers'; readonly items: readonly { readonly name: string; readonly key?: string; readonly data: Uint8Array }[] };

/** Runs a task on this thread. */
export function runTask(engine: CompiledEngine, task: Task): ItemResult[] {
  return task.type === 'files'
    ? task.files.map((f) => scanFile(engine, f.path, f.name))
    : task.items.map((i) => {
        const r = scanBuffer(engine, i.name, i.data);
        return i.key === undefined ? r : { ...r, key: i.key };
      });
}

/** Bytes a task will scan (for scheduling and progress). */
export function taskBytes(task: Task): number {
  let n = 0;
  if (task.type === 'files') for (const f of task.files) n += f.size;
  else for (const i of task.items) n += i.data.length;
  return n;
}
