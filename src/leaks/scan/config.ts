import { randomBytes } from 'node:crypto';
import { KeyturnError } from '../../core/errors.js';
import { FINGERPRINT_KEY_BYTES } from '../../core/fingerprint.js';
import { BUILTIN_RULES, DEFAULT_KEYTURN_PREFIXES, keyturnRule } from './rules/index.js';
import type { RulesFile } from './rules-file.js';
import type { AllowSpec, EngineConfig, RuleSpec } from './types.js';

/** Files above this size are skipped unless configured otherwise: 10 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Paths never worth scanning by default. */
export const DEFAULT_ALLOW: AllowSpec = { paths: ['(?:^|/)\\.git/', '(?:^|/)node_modules/'] };

/** A user's rules file, as `rules-file.ts` reads it (zod is loaded only to read one). */
export type { RulesFile } from './rules-file.js';

/** Options that shape the engine. */
export interface EngineOptions {
  /** keyturn prefix roots (`*`: any). Default `['kt']`. */
  readonly prefixes?: readonly string[];
  readonly rulesFile?: RulesFile;
  readonly maxFileBytes?: number;
  readonly allow?: AllowSpec;
  /** Key (64 hex) of non-keyturn fingerprints; a fresh random one when not given. */
  readonly fingerprintKey?: string;
}

function mergeAllow(...parts: (AllowSpec | undefined)[]): AllowSpec {
  return {
    paths: parts.flatMap((p) => p?.paths ?? []),
    regexes: parts.flatMap((p) => p?.regexes ?? []),
    stopwords: parts.flatMap((p) => p?.stopwords ?? []),
  };
}

function assertCompiles(rules: readonly RuleSpec[], allow: AllowSpec): void {
  const check = (source: string, flags: string, where: string): void => {
    try {
      new RegExp(source, flags);
    } catch (err) {
      throw new KeyturnError('ERR_CONFIG', `invalid regular expression in ${where}: ${(err as Error).message}`);
    }
  };
  for (const r of rules) {
    check(r.pattern, `gd${r.flags ?? ''}`, `rule ${r.id}`);
    for (const re of [...(r.allow?.paths ?? []), ...(r.allow?.regexes ?? [])]) check(re, '', `rule ${r.id} allowlist`);
  }
  for (const re of [...(allow.paths ?? []), ...(allow.regexes ?? [])]) check(re, '', 'allowlist');
}

/**
 * The engine configuration: keyturn rule for the prefixes, the built-in pack, the user's rules
 * (a user rule with a built-in id replaces it), minus disabled ids.
 */
export function buildEngineConfig(options: EngineOptions = {}): EngineConfig {
  const file = options.rulesFile;
  const prefixes = [...(options.prefixes?.length ? options.prefixes : DEFAULT_KEYTURN_PREFIXES), ...(file?.prefixes ?? [])];
  const userRules = (file?.rules ?? []) as RuleSpec[];
  const userIds = new Set(userRules.map((r) => r.id));
  const disabled = new Set(file?.disable ?? []);
  const rules = [keyturnRule(prefixes), ...BUILTIN_RULES.filter((r) => !userIds.has(r.id)), ...userRules].filter(
    (r) => !disabled.has(r.id),
  );
  const allow = mergeAllow(DEFAULT_ALLOW, options.allow, file?.allow);
  assertCompiles(rules, allow);
  const fingerprintKey = options.fingerprintKey ?? randomBytes(FINGERPRINT_KEY_BYTES).toString('hex');
  if (!/^[0-9a-f]{64}$/.test(fingerprintKey)) throw new KeyturnError('ERR_CONFIG', 'fingerprint key: expected 64 lower-case hex digits');
  return { rules, allow, maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, fingerprintKey };
}
