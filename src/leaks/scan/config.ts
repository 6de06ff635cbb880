import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import { BUILTIN_RULES, DEFAULT_KEYTURN_PREFIXES, keyturnRule } from './rules/index.js';
import { VALIDATORS, type AllowSpec, type EngineConfig, type RuleSpec } from './types.js';

/** Files above this size are skipped unless configured otherwise: 10 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Paths never worth scanning by default. */
export const DEFAULT_ALLOW: AllowSpec = { paths: ['(?:^|/)\\.git/', '(?:^|/)node_modules/'] };

const allowSchema = z
  .object({
    paths: z.array(z.string()).optional(),
    regexes: z.array(z.string()).optional(),
    stopwords: z.array(z.string()).optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    id: z.string().min(1).max(100),
    kind: z.string().min(1).max(50),
    description: z.string().max(500).default(''),
    keywords: z.array(z.string().min(1)).default([]),
    pattern: z.string().min(1).max(10_000),
    flags: z.string().regex(/^[imsu]*$/).optional(),
    secretGroup: z.number().int().min(0).optional(),
    locate: z.enum(['secret', 'match']).optional(),
    entropy: z.number().min(0).max(8).optional(),
    validate: z.enum(VALIDATORS).optional(),
    priority: z.number().int().optional(),
    allow: allowSchema.optional(),
  })
  .strict();

/**
 * A user's rules file (JSON): extra rules, rule ids to disable, a global allowlist and extra
 * keyturn prefixes.
 */
export const rulesFileSchema = z
  .object({
    rules: z.array(ruleSchema).default([]),
    disable: z.array(z.string()).default([]),
    allow: allowSchema.default({}),
    prefixes: z.array(z.string()).default([]),
  })
  .strict();
export type RulesFile = z.infer<typeof rulesFileSchema>;

/** Options that shape the engine. */
export interface EngineOptions {
  /** keyturn prefix roots (`*`: any). Default `['kt']`. */
  readonly prefixes?: readonly string[];
  readonly rulesFile?: RulesFile;
  readonly maxFileBytes?: number;
  readonly allow?: AllowSpec;
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
  return { rules, allow, maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES };
}

/** Reads and validates a rules file; `ERR_CONFIG` with the reason when it is not valid. */
export function loadRulesFile(path: string): RulesFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KeyturnError('ERR_CONFIG', `cannot read rules file ${path}: ${(err as Error).message}`);
  }
  const parsed = rulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeyturnError('ERR_CONFIG', `invalid rules file ${path}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}
