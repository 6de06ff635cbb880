/**
 * Client secrets and refresh tokens in the audit log, against a real server: every event that
 * issues or hands out one names it by its `hmac-sha256:` fingerprint under the deployment salt (so
 * a leaked secret found somewhere is matched to its events without keyturn storing it), and
 * successful uses are counted like API keys' — in memory on the hot path, written per interval
 * as usage records and `credential.used` events (per client for its secret, per refresh family).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFingerprint, deriveKey } from '../../src/core/fingerprint.js';
import { startOAuthServer, type OAuthServer } from './support.js';

type Event = { type: string; target: string; data: Record<string, unknown> };

describe('client secrets and refresh tokens in the audit log', () => {
  let kt: OAuthServer;
  const masterKey = randomBytes(32).toString('hex');
  const salt = deriveKey(Buffer.from(masterKey, 'hex'), 'event-fingerprints/v1');
  const print = (secret: string) => credentialFingerprint(secret, salt);
  const events = async (type: string): Promise<Event[]> => (await kt.api('GET', `/v1/events?type=${type}&limit=1000`)).body.items as Event[];
  beforeAll(async () => {
    kt = await startOAuthServer({ masterKey, usageInterval: '1h' });
  });
  afterAll(async () => kt.stop());

  it('fingerprints match the secrets and tokens that were issued, and no event holds one in clear', async () => {
    const client = await kt.createClient({ name: 'app', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policyOverrides: { clientCredentialsRefresh: true } });
    expect((await events('client.created')).find((e) => e.target === client.id)!.data['secretFingerprint']).toBe(print(client.secret));
    const rotated = (await kt.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 0 })).body as { client_secret: string };
    expect((await events('client.secret_rotated')).at(-1)!.data['secretFingerprint']).toBe(print(rotated.client_secret));
    const as = [client.id, rotated.client_secret] as const;

    const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: as });
    expect(issued.status).toBe(200);
    const first = issued.body.refresh_token as string;
    expect((await events('token.issued')).at(-1)!.data['refreshTokenFingerprint']).toBe(print(first));
    const refreshed = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: first }, { basic: as });
    expect(refreshed.status).toBe(200);
    const second = refreshed.body.refresh_token as string;
    expect((await events('token.refreshed')).at(-1)!.data).toMatchObject({ presentedFingerprint: print(first), refreshTokenFingerprint: print(second) });
    // Presenting the first token again past the grace is reuse: the event names the token presented.
    kt.ctx.advance(120_000);
    expect((await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: first }, { basic: as })).status).toBe(400);
    expect((await events('detection.refresh_reuse')).at(-1)!.data['presentedFingerprint']).toBe(print(first));

    const all = JSON.stringify((await kt.api('GET', '/v1/events?limit=1000')).body);
    for (const secret of [client.secret, rotated.client_secret, first, second]) expect(all).not.toContain(secret);
  });

  it('uses of a client secret and of a refresh family are counted per interval, not per request', async () => {
    const client = await kt.createClient({ name: 'counted', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policyOverrides: { clientCredentialsRefresh: true } });
    const as = [client.id, client.secret] as const;
    await kt.kt.audit.usage!.flush();
    const before = (await kt.api('GET', '/v1/events/last')).body.seq as number;
    let token = (await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: as })).body.refresh_token as string;
    for (let i = 0; i < 3; i++) {
      const res = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: token }, { basic: as });
      expect(res.status).toBe(200);
      token = res.body.refresh_token as string;
    }
    // The hot path wrote no usage event: only counted.
    const between = (await kt.api('GET', `/v1/events?after=${before}&limit=1000`)).body.items as Event[];
    expect(between.filter((e) => e.type === 'credential.used')).toEqual([]);
    await kt.kt.audit.usage!.flush();
    const used = (await events('credential.used')).filter((e) => e.target === client.id || (e.data['credential'] === 'refresh_token' && e.data['count'] === 3));
    expect(used.map((e) => [e.data['credential'], e.data['count'], e.data['network'], e.data['firstUse']]).sort()).toEqual([
      ['client_secret', 4, '127.0.0.1', true],
      ['refresh_token', 3, '127.0.0.1', true],
    ]);
    const shown = (await kt.api('GET', `/v1/clients/${client.id}`)).body as { lastUsedAt: string | null; usedFrom: { network: string; count: number }[] };
    expect(shown.usedFrom).toEqual([expect.objectContaining({ network: '127.0.0.1', count: 4 })]);
  });
});
