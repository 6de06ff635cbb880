import { readFileSync, statSync } from 'node:fs';
import { detect, type CompiledEngine } from './detect.js';
import type { ItemResult } from './types.js';

/** How many leading bytes are checked for a NUL byte to call a file binary (as git does). */
const BINARY_PROBE = 8000;

/** True when the first bytes hold a NUL byte. */
export function looksBinary(data: Uint8Array): boolean {
  const end = Math.min(data.length, BINARY_PROBE);
  for (let i = 0; i < end; i++) if (data[i] === 0) return true;
  return false;
}

/** Scans one buffer: skips binary and oversized data, decodes UTF-8, detects. */
export function scanBuffer(engine: CompiledEngine, name: string, data: Uint8Array): ItemResult {
  if (data.length > engine.maxFileBytes) return { name, bytes: data.length, skipped: 'too-large', findings: [] };
  if (looksBinary(data)) return { name, bytes: data.length, skipped: 'binary', findings: [] };
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  return { name, bytes: data.length, findings: detect(engine, text, name) };
}

/** Reads and scans one file; an unreadable file is reported as skipped, not thrown. */
export function scanFile(engine: CompiledEngine, path: string, name: string): ItemResult {
  try {
    const size = statSync(path).size;
    if (size > engine.maxFileBytes) return { name, bytes: size, skipped: 'too-large', findings: [] };
    return scanBuffer(engine, name, readFileSync(path));
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
