import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import { VALIDATORS } from './types.js';

// Apart from `config.ts` so that a scan without `--rules` never loads zod (a third of a
// pre-commit hook's start-up).

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
