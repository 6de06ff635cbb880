import type { Readable } from 'node:stream';
import type { ScanContext, SourceResult } from '../collect.js';
import { detect } from '../detect.js';
import type { Finding } from '../types.js';

/** Text is scanned in windows of this many characters… */
const WINDOW = 4 * 1024 * 1024;
/** …overlapping by this much so a secret (even a PEM block) across a boundary is seen whole. */
const OVERLAP = 64 * 1024;

/**
 * Scans a stream (standard input) in bounded windows: memory stays about `WINDOW + OVERLAP`
 * characters whatever the input size. Lines are counted across windows.
 */
export async function scanStream(stream: Readable, ctx: ScanContext, name = '<stdin>'): Promise<SourceResult> {
  const engine = ctx.pool.engine;
  const findings: Finding[] = [];
  const seen = new Set<string>();
  let carry = '';
  let carryStartLine = 1;
  let carryStartOffset = 0;
  let bytes = 0;
  const scanWindow = (text: string, final: boolean): void => {
    for (const f of detect(engine, text, name)) {
      const line = carryStartLine + f.line - 1;
      const key = `${f.fingerprint}:${line}:${f.column}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push({ ...f, line });
    }
    if (final) return;
    const keepFrom = Math.max(0, text.length - OVERLAP);
    const cut = text.lastIndexOf('\n', keepFrom);
    const from = cut === -1 ? keepFrom : cut + 1;
    carryStartLine += countLines(text, from);
    carryStartOffset += from;
    carry = text.slice(from);
  };
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) {
    bytes += Buffer.byteLength(chunk);
    carry += chunk;
    if (carry.length >= WINDOW + OVERLAP) scanWindow(carry, false);
    ctx.progress?.({ items: 0, bytes });
  }
  scanWindow(carry, true);
  if (seen.size > 10_000) seen.clear();
  return { findings, items: 1, bytes, skipped: 0 };
}

function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
