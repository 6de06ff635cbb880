import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { secretDigest } from '../../src/core/secret.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { dumpDatabase, startLeakServer, startReceiver, type Receiver } from './support/server.js';

/**
 * A leaked key gets a successor (issue #11 item 5): issued through the rotation path in the
 * finding's transaction, named to its owner by id only, and collected by an administrator — never
 * by presenting the leaked key, which whoever found the leak holds too.
 */

const finding = (secret: string) => ({ fingerprint: secretDigest(secret), kind: 'keyturn', rule: 'keyturn-secret', file: 'app/.env', line: 3, column: 1 });

for (const mode of ['suspend', 'revoke'] as const) {
  describeStore(`a leaked key gets a successor (${mode} mode)`, (kind) => {
    let server: TestServer;
    let stop: () => Promise<void>;
    let hooks: Receiver;
    let n = 0;
    beforeAll(async () => {
      hooks = await startReceiver(() => ({ status: 204 }));
      ({ server, stop } = await startLeakServer(kind, { leakResponse: mode }));
    });
    afterAll(async () => {
      await stop();
      await hooks.close();
    });
    beforeEach(() => {
      hooks.received.length = 0;
    });

    it('the owner is told the successor id (never a secret); only an administrator collects it, once', async () => {
      const owner = `svc-${mode}-${++n}`;
      expect((await server.api('POST', '/v1/principals', { kind: 'service', name: owner, webhookUrl: `${hooks.url}/owner` })).status).toBe(201);
      const leaked = (await server.api('POST', '/v1/keys', { owner, name: 'deploy', scopes: ['read', 'write'], metadata: { team: 'x' } })).body as { id: string; key: string };
      const res = await server.api('POST', '/v1/leaks/findings', [finding(leaked.key)]);
      expect(res.status).toBe(200);
      expect(res.body.items[0]).toMatchObject({ action: mode === 'suspend' ? 'suspended' : 'revoked' });

      await server.kt.leaks.response.idle();
      // An owner's notification is a signed `key.leaked` delivery: the leak payload is its `data`.
      const payloads = hooks.received.filter((r) => r.path === '/owner').map((r) => (JSON.parse(r.body) as { type: string; data: Record<string, any> }).data);
      expect(payloads).toHaveLength(1);
      const successorId = payloads[0]!.successor.id as string;
      expect(payloads[0]!.successor).toEqual({ id: expect.stringMatching(/^key_/), pickup: 'admin' });
      expect(payloads[0]!.text).toContain(`keyturn keys reveal-successor ${successorId}`);

      // Same owner, scopes, metadata and policy; the name is kept unless the suspended key still holds it.
      const successor = (await server.api('GET', `/v1/keys/${successorId}`)).body as Record<string, unknown>;
      expect(successor).toMatchObject({ predecessor: leaked.id, status: 'active', scopes: ['read', 'write'], metadata: { team: 'x' } });
      expect(successor.name).toBe(mode === 'suspend' ? `deploy (successor of ${leaked.id})` : 'deploy');
      const issued = (await server.api('GET', `/v1/events?type=key.successor_issued&target=${leaked.id}`)).body.items as { reason: string; data: Record<string, unknown> }[];
      expect(issued).toEqual([expect.objectContaining({ reason: 'leak', data: expect.objectContaining({ successor: successorId, pickup: 'admin' }) })]);

      // The leaked key cannot fetch it: it does not verify any more.
      const self = await server.api('POST', '/v1/keys/self/rotate', {}, leaked.key);
      expect(self.status).toBe(401);
      expect(self.body.code).toBe('ERR_INVALID_TOKEN');

      // An administrator collects it, once; it works; its secret is nowhere in clear.
      const revealed = await server.api('POST', `/v1/keys/${successorId}/reveal-successor`, {});
      expect(revealed.status).toBe(200);
      expect(revealed.headers.get('cache-control')).toBe('no-store');
      const secret = revealed.body.key as string;
      expect((await server.api('POST', '/v1/keys/verify', { key: secret }, null)).body.valid).toBe(true);
      const again = await server.api('POST', `/v1/keys/${successorId}/reveal-successor`, {});
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('ERR_KEY_STATE');
      const body = secret.slice(secret.lastIndexOf('_') + 1);
      for (const r of hooks.received) expect(r.body).not.toContain(body);
      expect(await dumpDatabase(server)).not.toContain(body);

      // Seen again: the same successor, not a second one.
      await server.api('POST', '/v1/leaks/findings', [finding(leaked.key)]);
      const successors = await server.kt.store.all<{ id: string }>('SELECT id FROM api_keys WHERE predecessor_id = ?', [leaked.id]);
      expect(successors.map((s) => s.id)).toEqual([successorId]);
    });
  });
}
