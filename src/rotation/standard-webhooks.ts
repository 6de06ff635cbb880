import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';

/**
 * Standard Webhooks (https://www.standardwebhooks.com, spec 1.0.0): a webhook is authenticated by
 * three headers — `webhook-id` (the message id, the same on every attempt, for receivers to drop
 * duplicates), `webhook-timestamp` (integer seconds of this attempt, for receivers to refuse
 * replays outside a tolerance) and `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>`
 * signatures of `<id>.<timestamp>.<body>` under the endpoint's secret. The secret is written
 * `whsec_<base64 of its bytes>`; the key of the HMAC is those bytes.
 */

/** Secret bytes: the spec asks for 24 to 64; keyturn makes 32. */
const SECRET_BYTES = 32;
const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret, `whsec_<base64 of 32 random bytes>`. */
export function newWebhookSecret(ctx: Pick<Context, 'random'>): string {
  return SECRET_PREFIX + Buffer.from(ctx.random(SECRET_BYTES)).toString('base64');
}

/** The HMAC key of a `whsec_…` secret (the prefix is optional, as in the spec's libraries). */
export function webhookSecretKey(secret: string): Buffer {
  const text = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new KeyturnError('ERR_VALIDATION', 'webhook secret: expected whsec_<base64>');
  return Buffer.from(text, 'base64');
}

/** The `v1,<base64>` signature of one attempt: HMAC-SHA256 of `id.timestamp.body`. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', webhookSecretKey(secret)).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one attempt, signed with each secret given (newest first). */
export function webhookHeaders(secrets: readonly string[], id: string, at: Date, body: string): Record<string, string> {
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

/** Why a received webhook was refused by {@link verifyWebhook}. */
export type WebhookRefusal = 'missing-headers' | 'bad-timestamp' | 'too-old' | 'too-new' | 'bad-signature';

/**
 * Checks a received webhook as a receiver should: the three headers present, the timestamp within
 * `toleranceSeconds` of `now` (default 5 minutes, as the spec's libraries), and at least one `v1`
 * signature matching (compared in constant time). A receiver can use it to check keyturn's
 * webhooks without a dependency.
 *
 * @example
 * ```ts
 * const r = verifyWebhook(secret, req.headers, rawBody);
 * if (!r.ok) return res.writeHead(400).end(r.reason);
 * ```
 */
export function verifyWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): { ok: true } | { ok: false; reason: WebhookRefusal } {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const ts = one('webhook-timestamp');
  const sigs = one('webhook-signature');
  if (!id || !ts || !sigs) return { ok: false, reason: 'missing-headers' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad-timestamp' };
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  const at = Number(ts);
  if (at < now - tolerance) return { ok: false, reason: 'too-old' };
  if (at > now + tolerance) return { ok: false, reason: 'too-new' };
  const expected = Buffer.from(signWebhook(secret, id, at, body).slice(3), 'base64');
  for (const part of sigs.split(' ')) {
    const [version, mac] = part.split(',', 2);
    if (version !== 'v1' || !mac) continue;
    const given = Buffer.from(mac, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'bad-signature' };
}
