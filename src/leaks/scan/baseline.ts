import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import type { Finding } from './types.js';

/**
 * A baseline: fingerprints (SHA-256 of the secret) of findings that were reviewed and accepted.
 * It never holds a secret, so it can be committed.
 */
export const baselineSchema = z.object({
  version: z.literal(1),
  findings: z.array(
    z.object({
      fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
      rule: z.string().optional(),
      file: z.string().optional(),
    }),
  ),
});
export type Baseline = z.infer<typeof baselineSchema>;

/** Reads a baseline file (`ERR_CONFIG` if unreadable or malformed). */
export function readBaseline(path: string): Baseline {
  try {
    const parsed = baselineSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (parsed.success) return parsed.data;
    throw new Error(parsed.error.issues[0]?.message ?? 'bad shape');
  } catch (err) {
    throw new KeyturnError('ERR_CONFIG', `cannot use baseline ${path}: ${(err as Error).message}`);
  }
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
