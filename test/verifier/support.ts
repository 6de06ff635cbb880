import { PRINCIPALS_CHANNEL } from '../../src/principals/service.js';
import { startTestServer, type TestServer } from '../support/server.js';
import type { Context } from '../../src/core/context.js';

/** A real keyturn with one service principal, and helpers to make and revoke its keys. */
export interface Fixture {
  readonly server: TestServer;
  readonly url: string;
  /** An API key with scope `verify`: what the verifier sends on the change stream (`apiKey`). */
  readonly streamKey: string;
  createKey(body?: { scopes?: string[]; expiresAt?: string; expiresIn?: string }): Promise<{ id: string; key: string }>;
  revoke(id: string): Promise<void>;
  /** Makes the server send `event: reset` on the change stream (a principal changed). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

let principals = 0;

export async function startFixture(ctx?: Context): Promise<Fixture> {
  const server = await startTestServer({}, ctx);
  const owner = `svc-${process.pid}-${++principals}`;
  const made = await server.api('POST', '/v1/principals', { kind: 'service', name: owner });
  if (made.status !== 201) throw new Error(`principal: ${made.status} ${JSON.stringify(made.body)}`);
  let n = 0;
  const verifierKey = await server.api<{ key: string }>('POST', '/v1/keys', { owner, name: 'verifier', scopes: ['verify'] });
  if (verifierKey.status !== 201) throw new Error(`verifier key: ${verifierKey.status}`);
  return {
    server,
    url: server.url,
    streamKey: verifierKey.body.key,
    async createKey(body = {}) {
      const res = await server.api<{ id: string; key: string }>('POST', '/v1/keys', { owner, name: `k${++n}`, scopes: ['read'], ...body });
      if (res.status !== 201) throw new Error(`key: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id, key: res.body.key };
    },
    async revoke(id) {
      const res = await server.api('POST', `/v1/keys/${id}/revoke`, {});
      if (res.status !== 200) throw new Error(`revoke: ${res.status}`);
    },
    async reset() {
      await server.kt.store.transaction(async (tx) => tx.notify(PRINCIPALS_CHANNEL, 'test'));
    },
    stop: () => server.stop(),
  };
}

/** A `fetch` that records every URL it is asked for, and can be told to fail some. */
export function recordingFetch(options: { fail?: (url: string) => boolean; inner?: typeof fetch } = {}) {
  const calls: string[] = [];
  const inner = options.inner ?? globalThis.fetch;
  const controllers = new Set<AbortController>();
  const fn: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    if (options.fail?.(url)) throw new TypeError('fetch failed (test)');
    if (url.endsWith('/v1/keys/changes')) {
      // Let the test cut the stream as a network failure would.
      const controller = new AbortController();
      controllers.add(controller);
      const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
      return inner(input, { ...init, signal });
    }
    return inner(input, init);
  };
  return {
    fetch: fn,
    calls,
    verifyCalls: () => calls.filter((u) => u.endsWith('/v1/keys/verify')).length,
    streamCalls: () => calls.filter((u) => u.endsWith('/v1/keys/changes')).length,
    cutStreams() {
      for (const c of controllers) c.abort();
      controllers.clear();
    },
  };
}

/** Polls `check` until it is truthy (or throws after `timeoutMs`); for asynchronous effects, never a fixed sleep. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An OAuth client registered with keyturn (the secret is shown once, at creation). */
export interface OAuthClient {
  readonly id: string;
  readonly secret: string;
  readonly principal: string;
}

/** The audience the test API serves, and another one a token may be minted for. */
export const API_AUDIENCE = 'https://api.example';
export const OTHER_AUDIENCE = 'https://other.example';

/** Registers a `client_credentials` client allowed both test audiences (the first is the default). */
export async function createClient(fx: Fixture, body: Record<string, unknown> = {}): Promise<OAuthClient> {
  const res = await fx.server.api('POST', '/v1/clients', {
    name: `c${++clients}`,
    scopes: ['read', 'write'],
    grantTypes: ['client_credentials'],
    audiences: [API_AUDIENCE, OTHER_AUDIENCE],
    ...body,
  });
  if (res.status !== 201) throw new Error(`client: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.client_id, secret: res.body.client_secret, principal: res.body.principal };
}
let clients = 0;

export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** POSTs a form to one of keyturn's OAuth endpoints as `client` (client_secret_basic). */
export async function oauthPost(fx: Fixture, path: string, client: OAuthClient, form: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${fx.url}${path}`, {
    method: 'POST',
    headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** An access token for `client` (`client_credentials`), optionally for a `scope` or `resource`. */
export async function accessToken(fx: Fixture, client: OAuthClient, form: Record<string, string> = {}): Promise<string> {
  const res = await oauthPost(fx, '/oauth/token', client, { grant_type: 'client_credentials', ...form });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}
