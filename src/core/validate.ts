import type { z } from 'zod';
import { KeyturnError } from './errors.js';

/**
 * Parses `input` with a zod schema, or throws `ERR_VALIDATION` naming the first bad field.
 * Never echoes submitted values (they may be secrets).
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  const message = issue ? issue.message : 'invalid input';
  throw new KeyturnError('ERR_VALIDATION', `${where}: ${message}`, {
    details: { issues: result.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}
