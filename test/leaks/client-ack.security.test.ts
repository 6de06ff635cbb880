import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { cli } from '../support/cli.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { startLeakServer } from './support/server.js';

/**
 * Issue #9 follow-up (item 5 for clients): the leak response disables a client whose `ktcs_`
 * secret leaked, but any admin call to enable it brought the leaked secret back to life with no
 * trace of anyone having looked at the finding. Enabling such a client now needs an explicit
 * acknowledgement (`ackLeak`, `keyturn clients enable --ack-leak`), recorded with who gave it;
 * without it: `ERR_LEAK_UNACKNOWLEDGED` and nothing changes. Failed before the fix.
 */
describeStore('enabling a client whose secret leaked needs an acknowledgement', (kind) => {
  const ctx = manualContext(new Date());
  let server: TestServer;
  let stop: () => Promise<void>;
  let n = 0;

  beforeAll(async () => {
    ({ server, stop } = await startLeakServer(kind, { leakResponse: 'suspend' }, ctx));
  });
  afterAll(async () => stop());

  async function leakedClient(): Promise<{ id: string; secret: string; finding: string }> {
    const owner = `ack-owner-${++n}`;
    expect((await server.api('POST', '/v1/principals', { kind: 'service', name: owner })).status).toBe(201);
    const res = await server.api('POST', '/v1/clients', { name: `ack-app-${n}`, owner, scopes: ['read'], grantTypes: ['client_credentials'] });
    expect(res.status).toBe(201);
    const client = { id: res.body.client_id as string, secret: res.body.client_secret as string };
    const found = await server.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest(client.secret), kind: 'keyturn', rule: 'keyturn-secret', file: '.env', line: 1 }]);
    expect(found.body.items[0]).toMatchObject({ credential: { type: 'client_secret', id: client.id, response: 'client_disabled' } });
    expect((await server.api('GET', `/v1/clients/${client.id}`)).body.status).toBe('disabled');
    return { ...client, finding: found.body.items[0].findingId as string };
  }
  const tokenStatus = async (c: { id: string; secret: string }) =>
    (
      await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}` },
        body: 'grant_type=client_credentials',
      })
    ).status;

  it('admin API: enabling without ackLeak is refused with ERR_LEAK_UNACKNOWLEDGED and changes nothing; with it, records who acknowledged', async () => {
    const c = await leakedClient();
    const about = async () => ((await server.api('GET', `/v1/events?target=${c.id}`)).body.items as Array<{ type: string }>).map((e) => e.type);
    const before = await about();
    for (const body of [{}, { ackLeak: false }, undefined]) {
      const refused = await server.api('POST', `/v1/clients/${c.id}/enable`, body);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ code: 'ERR_LEAK_UNACKNOWLEDGED', error_description: expect.stringContaining(c.finding) });
    }
    expect((await server.api('GET', `/v1/clients/${c.id}`)).body.status).toBe('disabled');
    expect(await about(), 'a refusal writes nothing about the client').toEqual(before);
    expect(await tokenStatus(c)).toBe(401);
    expect((await server.api('GET', `/v1/leaks/findings/${c.finding}`)).body.acknowledged).toBeNull();

    const enabled = await server.api('POST', `/v1/clients/${c.id}/enable`, { ackLeak: true });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    expect(enabled.body.status).toBe('active');
    const acks = (await server.api('GET', `/v1/events?type=leak.acknowledged&target=${c.id}`)).body.items as Array<{ actor: string; data: unknown }>;
    expect(acks).toEqual([expect.objectContaining({ actor: expect.stringMatching(/^prn_/), data: { findings: [c.finding], credential: 'client_secret' } })]);
    expect((await server.api('GET', `/v1/leaks/findings/${c.finding}`)).body.acknowledged).toEqual({ at: expect.any(String), by: acks[0]!.actor });
    // Acknowledged: disabling and enabling again needs nothing more.
    expect((await server.api('POST', `/v1/clients/${c.id}/disable`, {})).status).toBe(200);
    expect((await server.api('POST', `/v1/clients/${c.id}/enable`, {})).status).toBe(200);
  });

  it('a client disabled by hand, never found leaked, is enabled as before', async () => {
    const owner = `plain-${++n}`;
    await server.api('POST', '/v1/principals', { kind: 'service', name: owner });
    const id = (await server.api('POST', '/v1/clients', { name: `plain-${n}`, owner, scopes: ['read'], grantTypes: ['client_credentials'] })).body.client_id as string;
    expect((await server.api('POST', `/v1/clients/${id}/disable`, {})).status).toBe(200);
    expect((await server.api('POST', `/v1/clients/${id}/enable`, {})).status).toBe(200);
  });

  it('CLI: keyturn clients enable refuses without --ack-leak, and enables with it', async () => {
    const c = await leakedClient();
    const env = { KEYTURN_URL: server.url, KEYTURN_DATA_DIR: server.dataDir };
    const refused = await cli(['clients', 'enable', c.id], env);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('ERR_LEAK_UNACKNOWLEDGED');
    expect(refused.err).toContain('--ack-leak');
    expect((await server.api('GET', `/v1/clients/${c.id}`)).body.status).toBe('disabled');
    const ok = await cli(['clients', 'enable', c.id, '--ack-leak'], env);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`enabled ${c.id} (leak findings acknowledged)`);
    expect(await tokenStatus(c)).toBe(200);
  });
});
