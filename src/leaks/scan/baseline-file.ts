import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import type { Baseline } from './baseline.js';

/** The shape of a baseline file (see {@link Baseline}). */
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
