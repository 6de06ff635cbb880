import { writeFileSync } from 'node:fs';
import { fingerprintSecret } from '../../core/fingerprint.js';
import { secretDigest } from '../../core/secret.js';
import type { Finding } from './types.js';

/**
 * A baseline: fingerprints of findings that were reviewed and accepted. It never holds a secret,
 * so it can be committed. Read with `baseline-file.ts` (zod is loaded only to read one).
 *
 * Version 2 carries its own `key` (64 hex): its fingerprints are HMAC-SHA256 under that key (SHA-256
 * for keyturn's own secrets, see `src/core/fingerprint.ts`), so a password someone accepted cannot
 * be recovered from the fingerprint by whoever sees only scan output (JSON, SARIF) made with it.
 * Version 1 (before keys) holds plain SHA-256 fingerprints: still honoured, with a warning to rewrite.
 */
export type Baseline = BaselineV2 | BaselineV1;

export interface BaselineEntry {
  readonly fingerprint: string;
  readonly rule?: string | undefined;
  readonly file?: string | undefined;
}

export interface BaselineV2 {
  readonly version: 2;
  /** The fingerprint key, 64 lower-case hex digits. */
  readonly key: string;
  readonly findings: readonly BaselineEntry[];
}

/** Before fingerprints were keyed: plain SHA-256 of each secret. */
export interface BaselineV1 {
  readonly version: 1;
  readonly findings: readonly BaselineEntry[];
}

/** The baseline that accepts every one of `findings`, whose fingerprints were made under `key`. */
export function baselineOf(findings: readonly Finding[], key: string): BaselineV2 {
  const seen = new Map<string, BaselineEntry>();
  for (const f of findings) if (!seen.has(f.fingerprint)) seen.set(f.fingerprint, { fingerprint: f.fingerprint, rule: f.rule, file: f.file });
  return { version: 2, key, findings: [...seen.values()].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint)) };
}

/** Writes `baseline` as pretty JSON. */
export function writeBaseline(path: string, baseline: Baseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}

/**
 * Drops findings the baseline accepts. Each finding's secret is fingerprinted the baseline's way
 * (under its key; plain SHA-256 for a version 1 baseline), whatever key the scan used.
 */
export function applyBaseline(findings: readonly Finding[], baseline: Baseline | undefined): Finding[] {
  if (!baseline) return [...findings];
  const accepted = new Set(baseline.findings.map((f) => f.fingerprint));
  const fingerprint = baseline.version === 2 ? (f: Finding) => fingerprintSecret(f.secret, baseline.key) : (f: Finding) => secretDigest(f.secret);
  return findings.filter((f) => !accepted.has(fingerprint(f)));
}
