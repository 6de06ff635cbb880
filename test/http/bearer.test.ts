import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBearer as coreReadBearer } from '../../src/core/bearer.js';
import { readBearer } from '../../src/verifier/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The admin API and the verifier library read `Authorization` with one parser
 * (`src/core/bearer.ts`), so they agree on what another scheme, odd spacing or case is.
 */
describe('one Bearer parser for the admin API and the verifier', () => {
  let kt: TestServer;
  beforeAll(async () => {
    // Many failed admin authentications from one address: not what this test is about.
    kt = await startTestServer({ failedAdminAuthRate: 100_000 });
  });
  afterAll(async () => kt.stop());

  it('is the same function in both', () => {
    expect(readBearer).toBe(coreReadBearer);
  });

  /** What the admin API made of `header`, in the parser's words. */
  async function adminReading(header: string): Promise<'none' | 'malformed' | 'token'> {
    const res = await kt.app.inject({ method: 'GET', url: '/v1/keys?limit=1', headers: { authorization: header } });
    const { code, error_description: description } = res.json() as { code?: string; error_description?: string };
    if (res.statusCode === 200) return 'token';
    if (code === 'ERR_UNAUTHENTICATED') return 'none';
    // A token that reached verification is refused as a credential; a malformed header as a header.
    expect(code).toBe('ERR_INVALID_TOKEN');
    return /^malformed Authorization header/.test(description ?? '') ? 'malformed' : 'token';
  }

  it.each([
    ['Basic dXNlcjpwYXNz'],
    ['basic dXNlcjpwYXNz'],
    ['Token abc'],
    ['Digest username="a"'],
    ['Bearerabc'],
    ['   '],
    ['Bearer'],
    ['Bearer '],
    ['Bearer a b'],
    ['Bearer "abc"'],
    ['Bearer a=b'],
    ['Bearer kt_live_abc'],
    ['bearer kt_live_abc'],
    ['BEARER   kt_live_abc'],
    ['  Bearer kt_live_abc  '],
    [`Bearer ${'a'.repeat(5000)}`],
  ])('%j reads the same in both', async (header) => {
    expect(await adminReading(header)).toBe(readBearer(header).kind);
  });

  it('admits the admin key whatever the case and spacing of the scheme', async () => {
    for (const header of [`Bearer ${kt.adminKey}`, `bearer ${kt.adminKey}`, `BEARER   ${kt.adminKey}`]) {
      expect(readBearer(header)).toEqual({ kind: 'token', token: kt.adminKey });
      expect((await kt.app.inject({ method: 'GET', url: '/v1/keys?limit=1', headers: { authorization: header } })).statusCode).toBe(200);
    }
  });
});
