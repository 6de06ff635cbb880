/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the self time goes, by function
 * and by area (keyturn's own files, each npm package, Node internals, GC, idle), and the
 * inclusive time of keyturn's functions. Run alone: `tsx bench/profile.ts <file.cpuprofile>`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time, idle excluded: every share below is of this busy time. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Self time by area, busiest first. */
  readonly areas: ProfileRow[];
  /** Inclusive time by area (a sample counts for every area on its stack), busiest first. */
  readonly areasInclusive: ProfileRow[];
  /** Self time by function, busiest first. */
  readonly functions: ProfileRow[];
  /** Inclusive time by function (counted once per stack), busiest first. */
  readonly functionsInclusive: ProfileRow[];
}

function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const own = /\/(dist|src)\/([^/]+)\//.exec(url);
  if (own) return `keyturn:${own[2]}`;
  if (url.startsWith('node:')) return 'node-internals';
  return url.replace(/^file:\/\//, '');
}

function label(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\/.*?\/((?:dist|src|node_modules)\/)/, '$1') || '(no file)';
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

/**
 * Aggregates one profile. Shares are of busy (non-idle) time, so a server profiled across idle
 * phases still shows where its work goes.
 *
 * @example
 * ```ts
 * const summary = summariseProfile('/tmp/CPU.123.cpuprofile');
 * console.table(summary.areasInclusive.slice(0, 10));
 * ```
 */
export function summariseProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const areas = new Map<string, number>();
  const areasInclusive = new Map<string, number>();
  const functions = new Map<string, number>();
  const functionsInclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    busy += dt;
    add(areas, area(node.callFrame), dt);
    add(functions, label(node.callFrame), dt);
    const seenAreas = new Set<string>();
    const seenFunctions = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      seenAreas.add(area(frame));
      seenFunctions.add(label(frame));
    }
    for (const a of seenAreas) add(areasInclusive, a, dt);
    for (const f of seenFunctions) add(functionsInclusive, f, dt);
  });
  const rows = (m: Map<string, number>) =>
    [...m]
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: busy > 0 ? Math.round((ms / busy) * 1000) / 10 : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return {
    busyMs: Math.round(busy),
    idleMs: Math.round(idle),
    areas: rows(areas),
    areasInclusive: rows(areasInclusive),
    functions: rows(functions),
    functionsInclusive: rows(functionsInclusive),
  };
}

/** Prints the top rows of a summary. */
export function printProfile(summary: ProfileSummary, top = 20): void {
  console.log(`\nCPU profile: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle; shares are of busy time`);
  const section = (title: string, rows: ProfileRow[]) => {
    console.log(`\n${title}:`);
    for (const r of rows.slice(0, top)) console.log(`  ${String(r.share).padStart(5)}%  ${r.name}`);
  };
  section('self time by area', summary.areas);
  section('inclusive time by area', summary.areasInclusive);
  section('self time by function', summary.functions);
  section('inclusive time by function', summary.functionsInclusive);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/profile.ts <file.cpuprofile>');
    process.exit(2);
  }
  printProfile(summariseProfile(file), Number(process.argv[3] ?? 25));
}
