import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretDigest } from '../../src/core/secret.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('keyturn keys unsuspend --ack-leak', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startTestServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
  });
  afterAll(async () => kt.stop());

  it('refuses to unsuspend a leaked key without the flag, changing nothing; with it, lifts the suspension and records who acknowledged', async () => {
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'svc' });
    const k = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'prod' })).body as { id: string; key: string };
    const res = await kt.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest(k.key), kind: 'keyturn', rule: 'keyturn-secret', file: '.env', line: 1 }]);
    expect(res.body.items[0]).toMatchObject({ action: 'suspended' });

    const refused = await cli(['keys', 'unsuspend', k.id], env);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('ERR_LEAK_UNACKNOWLEDGED');
    expect(refused.err).toContain('--ack-leak');
    expect((await kt.api('GET', `/v1/keys/${k.id}`)).body.status).toBe('suspended');

    const lifted = await cli(['keys', 'unsuspend', k.id, '--ack-leak'], env);
    expect(lifted.code, lifted.err).toBe(0);
    expect(lifted.out).toContain(`unsuspended ${k.id} (leak findings acknowledged)`);
    expect((await kt.api('GET', `/v1/keys/${k.id}`)).body.status).toBe('active');
    const events = (await kt.api('GET', `/v1/events?type=leak.acknowledged&target=${k.id}`)).body.items as { actor: string }[];
    expect(events).toHaveLength(1);
    expect(events[0]!.actor).toMatch(/^prn_/);
  });
});
