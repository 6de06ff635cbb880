import { writeFileSync } from 'node:fs';
import type { Finding } from './types.js';

/**
 * A baseline: fingerprints (SHA-256 of the secret) of findings that were reviewed and accepted.
 * It never holds a secret, so it can be committed. Read with `baseline-file.ts` (zod is loaded
 * only to read one).
 */
export interface Baseline {
  readonly version: 1;
  readonly findings: readonly { readonly fingerprint: string; readonly rule?: string | undefined; readonly file?: string | undefined }[];
}

/** The baseline that accepts every one of `findings`. */
export function baselineOf(findings: readonly Finding[]): Baseline {
  const seen = new Map<string, Baseline['findings'][number]>();
  for (const f of findings) if (!seen.has(f.fingerprint)) seen.set(f.fingerprint, { fingerprint: f.fingerprint, rule: f.rule, file: f.file });
  return { version: 1, findings: [...seen.values()].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint)) };
}

/** Writes `baseline` as pretty JSON. */
export function writeBaseline(path: string, baseline: Baseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}

/** Drops findings whose fingerprint the baseline accepts. */
export function applyBaseline(findings: readonly Finding[], baseline: Baseline | undefined): Finding[] {
  if (!baseline) return [...findings];
  const accepted = new Set(baseline.findings.map((f) => f.fingerprint));
  return findings.filter((f) => !accepted.has(f.fingerprint));
}
