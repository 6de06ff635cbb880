import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import type { Baseline } from './baseline.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const entries = z.array(z.object({ fingerprint: hex64, rule: z.string().optional(), file: z.string().optional() }));

/** The shape of a baseline file (see {@link Baseline}): version 2 with its key, or version 1 (plain SHA-256). */
export const baselineSchema = z.discriminatedUnion('version', [
  z.object({ version: z.literal(2), key: hex64, findings: entries }),
  z.object({ version: z.literal(1), findings: entries }),
]);

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

/** The key of the version 2 baseline at `path`, if there is a readable one (a file about to be overwritten). */
export function baselineKeyAt(path: string): string | undefined {
  try {
    const parsed = baselineSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success && parsed.data.version === 2 ? parsed.data.key : undefined;
  } catch {
    return undefined;
  }
}
