import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from '../../src/rotation/index.js';

/** The published vector of the Standard Webhooks reference library (source named in the file). */
const vector = JSON.parse(readFileSync(new URL('../vectors/standard-webhooks/sign.json', import.meta.url), 'utf8')) as {
  secret: string;
  id: string;
  timestamp: number;
  payload: string;
  signature: string;
  toleranceSeconds: number;
};
const at = new Date(vector.timestamp * 1000);

describe('Standard Webhooks signatures', () => {
  it('signs the published vector byte for byte, with and without the whsec_ prefix', () => {
    expect(signWebhook(vector.secret, vector.id, vector.timestamp, vector.payload)).toBe(vector.signature);
    expect(signWebhook(vector.secret.slice('whsec_'.length), vector.id, vector.timestamp, vector.payload)).toBe(vector.signature);
    expect(webhookHeaders([vector.secret], vector.id, at, vector.payload)).toEqual({
      'webhook-id': vector.id,
      'webhook-timestamp': String(vector.timestamp),
      'webhook-signature': vector.signature,
    });
  });

  it('verifies the vector within the tolerance, and refuses it outside, tampered, or without a header', () => {
    const headers = { 'webhook-id': vector.id, 'webhook-timestamp': String(vector.timestamp), 'webhook-signature': vector.signature };
    expect(verifyWebhook(vector.secret, headers, vector.payload, { now: at })).toEqual({ ok: true });
    expect(verifyWebhook(vector.secret, headers, vector.payload, { now: new Date((vector.timestamp + vector.toleranceSeconds) * 1000) })).toEqual({ ok: true });
    expect(verifyWebhook(vector.secret, headers, vector.payload, { now: new Date((vector.timestamp + vector.toleranceSeconds + 1) * 1000) })).toEqual({ ok: false, reason: 'too-old' });
    expect(verifyWebhook(vector.secret, headers, vector.payload, { now: new Date((vector.timestamp - vector.toleranceSeconds - 1) * 1000) })).toEqual({ ok: false, reason: 'too-new' });
    expect(verifyWebhook(vector.secret, headers, vector.payload.replace('2432232314', '2432232315'), { now: at })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyWebhook(vector.secret, { ...headers, 'webhook-id': 'msg_other' }, vector.payload, { now: at })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyWebhook(vector.secret, { ...headers, 'webhook-timestamp': 'hello' }, vector.payload, { now: at })).toEqual({ ok: false, reason: 'bad-timestamp' });
    expect(verifyWebhook(vector.secret, { ...headers, 'webhook-signature': 'v1,' }, vector.payload, { now: at })).toEqual({ ok: false, reason: 'bad-signature' });
    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    expect(verifyWebhook(vector.secret, unsigned, vector.payload, { now: at })).toEqual({ ok: false, reason: 'missing-headers' });
    expect(verifyWebhook(newWebhookSecret(manualContext()), headers, vector.payload, { now: at })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('accepts any matching v1 signature among several (the spec’s multi-signature header: a rotation overlap)', () => {
    const other = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
    const headers = { 'webhook-id': vector.id, 'webhook-timestamp': String(vector.timestamp), 'webhook-signature': `${other} v2,${vector.signature.slice(3)} ${vector.signature}` };
    expect(verifyWebhook(vector.secret, headers, vector.payload, { now: at })).toEqual({ ok: true });
    const next = newWebhookSecret(manualContext());
    const both = webhookHeaders([next, vector.secret], vector.id, at, vector.payload);
    expect(both['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifyWebhook(next, both, vector.payload, { now: at })).toEqual({ ok: true });
    expect(verifyWebhook(vector.secret, both, vector.payload, { now: at })).toEqual({ ok: true });
  });

  it('makes secrets of 32 random bytes, whsec_ and base64, each different', () => {
    const ctx = manualContext();
    const a = newWebhookSecret(ctx);
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret(ctx)).not.toBe(a);
    expect(() => signWebhook('whsec_not base64!', 'x', 1, '')).toThrow(/ERR_VALIDATION|whsec_/);
  });
});
