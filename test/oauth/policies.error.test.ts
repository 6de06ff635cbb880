import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { resolvePolicy } from '../../src/core/policy.js';
import { KeyturnError } from '../../src/core/errors.js';
import { startOAuthServer, type OAuthServer } from './support.js';

const KNOWN = /known: default, banking, public-read, internal/;
/** Names that are no preset, among them what every object answers to (`toString`, `constructor`, …). */
const UNKNOWN = ['nope', 'Default', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];

describe('a client names a known policy or nothing is written', () => {
  let kt: OAuthServer;
  beforeAll(async () => {
    kt = await startOAuthServer();
  });
  afterAll(async () => kt.stop());

  it.each(UNKNOWN)('resolvePolicy refuses %j with ERR_VALIDATION naming the known presets', (name) => {
    let thrown: unknown;
    try {
      resolvePolicy(name);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(KeyturnError);
    expect(thrown).toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(KNOWN) });
  });

  it.each(UNKNOWN)('POST /v1/clients with policy %j is ERR_VALIDATION and creates nothing', async (policy) => {
    const before = await kt.api('GET', '/v1/clients');
    const res = await kt.api('POST', '/v1/clients', { name: `c-${policy.replace(/_/g, 'u')}`, scopes: ['read'], policy });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', code: 'ERR_VALIDATION' });
    expect(res.body.error_description ?? res.body.message).toMatch(KNOWN);
    expect((await kt.api('GET', '/v1/clients')).body.items).toHaveLength(before.body.items.length);
  });

  it.each(UNKNOWN)('PATCH /v1/clients/:id with policy %j is ERR_VALIDATION and leaves the client as it was', async (policy) => {
    const client = await kt.createClient({ name: `p-${policy.replace(/_/g, 'u')}`, scopes: ['read'], policy: 'banking' });
    const res = await kt.api('PATCH', `/v1/clients/${client.id}`, { policy });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'ERR_VALIDATION' });
    expect(res.body.error_description ?? res.body.message).toMatch(KNOWN);
    const after = await kt.api('GET', `/v1/clients/${client.id}`);
    expect(after.body.policy).toEqual(resolvePolicy('banking'));
  });

  it('the CLI answers one ERR_VALIDATION line naming the known presets', async () => {
    for (const policy of ['nope', 'toString']) {
      const err: string[] = [];
      const previous = process.exitCode;
      const code = await runCli(['clients', 'create', '--name', `cli-${policy}`, '--policy', policy], {
        out: () => undefined,
        err: (t) => err.push(t),
        env: { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir },
        stdin: async () => '',
      });
      process.exitCode = previous;
      expect(code).toBe(1);
      expect(err.join('\n')).toMatch(new RegExp(`^keyturn: ERR_VALIDATION: policy: unknown policy '${policy}' \\(${KNOWN.source}\\)`));
    }
  });
});
