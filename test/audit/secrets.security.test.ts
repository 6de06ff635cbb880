import fc from 'fast-check';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EVENT_CATALOG, type EventType } from '../../src/audit/catalog.js';
import { appendEvent, EVENT_TYPES, listEvents, type EventInput, type RequestMeta } from '../../src/audit/events.js';
import { loadConfig } from '../../src/config/load.js';
import { manualContext } from '../../src/core/context.js';
import { redactSecrets } from '../../src/core/redact.js';
import { generateSecret } from '../../src/core/secret.js';
import { createLogger } from '../../src/runtime/logger.js';
import { basic, startOAuthServer, type OAuthServer } from '../oauth/support.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * "No secret in an event, ever" (issue 9, item 6): whatever field of whatever event a keyturn
 * secret lands in — target, actor, reason, source address, request id, any field of `data` at any
 * depth — and whatever text surrounds it, it is stored and served redacted. And the reported
 * attack: a client that swapped `client_id` and `client_secret` left its secret in `GET /v1/events`.
 */

const DEFAULTS = loadConfig({ flags: {} });
/** Every kind of keyturn secret, by its configured prefix (the deployment's defaults). */
const SECRET_KINDS = {
  apiKey: DEFAULTS.keys.prefix,
  clientSecret: DEFAULTS.oauth.clientSecretPrefix,
  refreshToken: DEFAULTS.oauth.refreshTokenPrefix,
  accessToken: DEFAULTS.oauth.accessTokenPrefix,
} as const;

/** A real secret of `prefix` from 32 bytes fast-check chose. */
function secretOf(prefix: string, bytes: Uint8Array): string {
  return generateSecret(prefix, { random: (n) => bytes.slice(0, n) });
}

/** The parts of a secret that must never come back: its body with its check, and any 16 characters of it. */
function leaks(text: string, secret: string): boolean {
  const tail = secret.slice(-49);
  for (let i = 0; i + 16 <= tail.length; i += 4) if (text.includes(tail.slice(i, i + 16))) return true;
  return false;
}

/**
 * A value of `schema`'s shape where every leaf is `text` — strings, enums, literals, numbers and
 * booleans alike (appendEvent takes what the type checker let through; a caller's bug must not leak).
 */
function filled(schema: z.ZodType, text: string): unknown {
  const def = (schema as unknown as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case 'object':
      return Object.fromEntries(Object.entries(def.shape as Record<string, z.ZodType>).map(([k, v]) => [k, filled(v, text)]));
    case 'array':
      return [filled(def.element, text), filled(def.element, text)];
    case 'optional':
    case 'nullable':
    case 'default':
      return filled(def.innerType, text);
    default:
      return text;
  }
}

/** One event of `type` with `text` in every field the caller controls. */
function eventWith(type: EventType, text: string): { input: EventInput; meta: RequestMeta } {
  const spec = EVENT_CATALOG[type];
  const input = { type, target: text, outcome: spec.outcomes[0], reason: text, data: filled(spec.data, text) } as unknown as EventInput;
  return { input, meta: { actor: text, actorKind: 'service', sourceIp: text, requestId: text } };
}

/** Text around a secret: anything printable, glued to it or not (no NUL: PostgreSQL text refuses it). */
const around = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 24 }),
  fc.stringMatching(/^[a-z0-9_]{0,45}$/),
  fc.stringMatching(/^[0-9A-Za-z]{0,12}$/),
  fc.constantFrom('https://host/cb?token=', 'Bearer ', 'client_id=', '{"k":"', 'x'),
);
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const kindArb = fc.constantFrom(...(Object.keys(SECRET_KINDS) as (keyof typeof SECRET_KINDS)[]));

describe('redactSecrets', () => {
  it('redacts each kind of keyturn secret wherever it stands in a text', () => {
    fc.assert(
      fc.property(kindArb, bytes32, around, around, (kind, bytes, before, after) => {
        const secret = secretOf(SECRET_KINDS[kind], bytes);
        const out = redactSecrets(`${before}${secret}${after}`);
        expect(leaks(out, secret)).toBe(false);
        expect(out).toContain(`${SECRET_KINDS[kind]}_[REDACTED]`);
      }),
      { numRuns: 500 },
    );
  });

  it('redacts two secrets in a row and leaves the text around them as it was', () => {
    const a = secretOf('kt_live', new Uint8Array(32).fill(1));
    const b = secretOf('ktcs', new Uint8Array(32).fill(2));
    expect(redactSecrets(`id=${a}&secret=${b}.`)).toBe('id=kt_live_[REDACTED]&secret=ktcs_[REDACTED].');
    expect(redactSecrets(`xyz${a}${b}`)).toBe('xyzkt_live_[REDACTED]ktcs_[REDACTED]');
    expect(redactSecrets(`${a}more`)).toBe('kt_live_[REDACTED]more');
  });

  it('leaves alone what only looks like a secret (wrong check)', () => {
    const a = secretOf('kt_live', new Uint8Array(32).fill(3));
    const forged = a.slice(0, -1) + (a.endsWith('A') ? 'B' : 'A');
    expect(redactSecrets(`k=${forged}`)).toBe(`k=${forged}`);
    expect(redactSecrets('short_text')).toBe('short_text');
  });
});

describe('the logger', () => {
  it('redacts a keyturn secret in the message and in any field, not only at known paths', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink);
    const secret = secretOf('ktr', new Uint8Array(32).fill(9));
    logger.info({ client: secret, nested: { deep: [`x${secret}y`] }, url: `/cb?refresh=${secret}` }, `refresh ${secret} failed`);
    logger.error(new Error(`bad ${secret}`), 'boom');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(leaks(line, secret)).toBe(false);
      expect(line).toContain('ktr_[REDACTED]');
    }
  });
});

describeStore('no secret in an event, ever', (kind) => {
  let handle: StoreHandle;
  let kt: TestServer;
  beforeAll(async () => {
    handle = await freshStore(kind);
    // The usage job would add usage events (naming a key id) between the events this test reads back in order.
    kt = await startTestServer({ db: handle.db, usageInterval: 0 });
  });
  afterAll(async () => {
    await kt.stop();
    await handle.dispose();
  });

  it('a secret of any kind, in every field of every event type, comes back redacted from the log and from GET /v1/events', async () => {
    const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    await fc.assert(
      fc.asyncProperty(kindArb, bytes32, around, around, async (secretKind, bytes, before, after) => {
        const secret = secretOf(SECRET_KINDS[secretKind], bytes);
        const text = `${before}${secret}${after}`.replace(/\0/g, '');
        const [{ seq } = { seq: 0 }] = await handle.store.all<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) AS seq FROM events');
        // The server may append events of its own meanwhile (a checkpoint): only ours are compared.
        const ours = new Set<string>();
        await handle.store.transaction(async (tx) => {
          for (const type of EVENT_TYPES) {
            const { input, meta } = eventWith(type, text);
            ours.add(await appendEvent(tx, ctx, input, meta));
          }
        });
        const stored = (await listEvents(handle.store, { afterSeq: Number(seq), limit: 1000 })).filter((e) => ours.has(e.id));
        expect(stored.map((e) => e.type)).toEqual(EVENT_TYPES);
        expect(leaks(JSON.stringify(stored), secret)).toBe(false);
        const raw = await handle.store.all<Record<string, unknown>>('SELECT * FROM events WHERE seq > ?', [Number(seq)]);
        expect(leaks(JSON.stringify(raw), secret)).toBe(false);
        const served = await kt.api('GET', `/v1/events?after=${seq}&limit=1000`);
        expect(served.status).toBe(200);
        const servedOurs = served.body.items.filter((e: { id: string }) => ours.has(e.id));
        expect(servedOurs).toHaveLength(EVENT_TYPES.length);
        expect(leaks(JSON.stringify(served.body), secret)).toBe(false);
        // The event still says what kind of secret it was.
        expect(servedOurs[0].target).toContain(`${SECRET_KINDS[secretKind]}_[REDACTED]`);
      }),
      { numRuns: 15 },
    );
  });
});

describe('attack: a client swaps client_id and client_secret at /oauth/token', () => {
  let kt: OAuthServer;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    kt = await startOAuthServer({ logLevel: 'trace', logRequests: true }, createLogger('trace', sink));
  });
  afterAll(async () => kt.stop());
  afterEach(() => void (lines.length = 0));

  it.each(['client_secret_post', 'client_secret_basic'] as const)('%s: its secret is in neither GET /v1/events nor the log', async (method) => {
    const client = await kt.createClient({ name: `swapped-${method}`, scopes: ['read'], grantTypes: ['client_credentials'] });
    const [{ seq } = { seq: 0 }] = (await kt.api('GET', '/v1/events?limit=1000')).body.items.slice(-1);
    const res =
      method === 'client_secret_post'
        ? await kt.form('/oauth/token', { grant_type: 'client_credentials', client_id: client.secret, client_secret: client.id })
        : await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { headers: { authorization: basic(client.secret, client.id) } });
    expect(res.status).toBe(401);
    expect(leaks(res.text, client.secret)).toBe(false);
    const events = await kt.api('GET', `/v1/events?after=${seq}&limit=1000`);
    const failures = events.body.items.filter((e: { type: string }) => e.type === 'client.auth_failed');
    expect(failures.length).toBeGreaterThan(0);
    expect(leaks(JSON.stringify(events.body), client.secret)).toBe(false);
    expect(leaks(lines.join(''), client.secret)).toBe(false);
  });
});
