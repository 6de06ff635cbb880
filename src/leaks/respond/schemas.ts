import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import { validate } from '../../core/validate.js';
import { FINDING_STATUSES, FINGERPRINT, MAX_BATCH, type ReportedFinding } from './finding.js';

/** What the leak endpoints accept: request bodies and queries, validated before anything is done. */

const findingInput = z.strictObject({
  fingerprint: z.string().regex(FINGERPRINT, 'expected the fingerprint of the secret (64 lower-case hex)'),
  kind: z.string().min(1).max(64),
  rule: z.string().min(1).max(128),
  file: z.string().max(1024).optional(),
  line: z.number().int().min(0).max(1_000_000_000).optional(),
  column: z.number().int().min(0).max(1_000_000_000).optional(),
  commit: z
    .string()
    .regex(/^[0-9a-f]{4,64}$/)
    .optional(),
  atHead: z.boolean().optional(),
  url: z.string().max(2048).optional(),
});

/** Body of `POST /v1/leaks/findings`: the scanner's JSON findings without `match`, bare or as `{source, findings}`. */
export const findingsBodySchema = z.preprocess(
  (value) => (Array.isArray(value) ? { findings: value } : value),
  z.strictObject({
    source: z.string().min(1).max(2048).optional(),
    findings: z.array(findingInput).max(MAX_BATCH),
  }),
);

/** Query of `GET /v1/leaks/findings`. */
export const findingsQuerySchema = z.strictObject({
  status: z.enum(FINDING_STATUSES).optional(),
  key: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: z.string().max(128).optional(),
});

const reportItem = z.strictObject({ token: z.string().min(1).max(4096), url: z.string().max(2048).optional() });
/** `POST /v1/leaks/report`: one `{token, url?}` or an array of up to 100. */
export const reportBodySchema = z.union([reportItem, z.array(reportItem).min(1).max(100)]);

/**
 * Validates a `POST /v1/leaks/findings` body into findings seen by a scan. A body that carries a
 * secret (`match`, `secret`) is refused with a message saying so, before anything else.
 *
 * @example
 * ```ts
 * parseFindingsBody({ source: '/srv/app', findings: [{ fingerprint, kind: 'keyturn', rule: 'keyturn-secret', file: '.env', line: 3 }] });
 * // [{ fingerprint, kind: 'keyturn', rule: 'keyturn-secret', where: { via: 'scan', source: '/srv/app', file: '.env', line: 3 } }]
 * ```
 */
export function parseFindingsBody(body: unknown): ReportedFinding[] {
  if (Array.isArray(body) || (body !== null && typeof body === 'object' && Array.isArray((body as { findings?: unknown }).findings))) {
    const items = (Array.isArray(body) ? body : (body as { findings: unknown[] }).findings) as unknown[];
    const at = items.findIndex((item) => item !== null && typeof item === 'object' && ('match' in item || 'secret' in item));
    if (at >= 0) throw new KeyturnError('ERR_VALIDATION', `findings.${at}: send the fingerprint only, never the secret (drop "match")`);
  }
  const data = validate(findingsBodySchema, body);
  return data.findings.map((f) => ({
    fingerprint: f.fingerprint,
    kind: f.kind,
    rule: f.rule,
    where: {
      via: 'scan',
      ...(data.source === undefined ? {} : { source: data.source }),
      ...(f.file === undefined ? {} : { file: f.file }),
      ...(f.line === undefined ? {} : { line: f.line }),
      ...(f.column === undefined ? {} : { column: f.column }),
      ...(f.commit === undefined ? {} : { commit: f.commit }),
      ...(f.url === undefined ? {} : { url: f.url }),
    },
  }));
}
