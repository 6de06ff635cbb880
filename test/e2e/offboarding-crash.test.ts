import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { RequestMeta } from '../../src/audit/events.js';
import { loadConfig } from '../../src/config/load.js';
import { envName, type ConfigFlags } from '../../src/config/schema.js';
import { openKeyturn } from '../../src/runtime/open.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/port.js';
import { runBin, serveBin } from '../support/spawn.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

/**
 * `kill -9` of a server in the middle of an offboarding (issue #11, tests): the built `keyturn`
 * is started, a person exposed to thousands of keys is offboarded with the CLI, the server is
 * killed while the steps run, the database is checked for half-done work (a step is done with its
 * successor, or not done and its key untouched), and a restarted server finishes the job: every
 * step done exactly once, neither the old nor the new key lost. The `--dry-run` plan printed
 * before is the one carried out.
 */

/** Enough keys that the kill lands between batches (200 steps each) on either store. */
const SIZES = { sqlite: 6000, postgres: 2500 } as const;

type Step = { seq: number; action: string; target: string; outcome: string | null; detail: Record<string, string | null> | null };
type Report = { id: string | null; status: string; done: number; steps: Step[] };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describeStore('offboarding survives kill -9 of the server', (kind) => {
  it('resumes after a restart: every step once, no half-done step, old and new keys both work', { timeout: 300_000 }, async () => {
    const N = SIZES[kind];
    const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-offboard-crash-'));
    let handle: StoreHandle | undefined;
    if (kind === 'postgres') handle = await freshStore('postgres');
    // PostgreSQL: a cluster's settings (a shared master key, an explicit issuer).
    const flags: ConfigFlags = handle ? { dataDir, db: handle.db, masterKey: randomBytes(32).toString('hex'), issuer: 'http://127.0.0.1:9' } : { dataDir };
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(flags)) env[envName(name)] = String(value);
    let server = await serveBin([], env);
    try {
      const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
      await server.stop();

      // Seeded in-process while no server runs: bob (a person) created N keys of billing.
      const kt = await openKeyturn(loadConfig({ flags }));
      const bob = await kt.principals.create({ kind: 'user', name: 'bob' }, { actor: null });
      const billing = await kt.principals.create({ kind: 'service', name: 'billing' }, { actor: null });
      const meta: RequestMeta = { actor: bob.id, actorKind: 'user', sourceIp: null, requestId: null };
      const secrets = new Map<string, string>();
      for (let i = 0; i < N; i += 1000) {
        await kt.store.transaction(async (tx) => {
          for (let j = i; j < Math.min(i + 1000, N); j++) {
            const { key, secret } = await kt.keys.createIn(tx, { owner: billing.id, name: `k${j}`, scopes: [] }, meta);
            if (j % 500 === 0) secrets.set(key.id, secret);
          }
        });
      }
      await kt.close();

      server = await serveBin([], env);
      let cli = { ...env, KEYTURN_URL: server.url, KEYTURN_TOKEN: adminKey };
      const dry = await runBin(['principals', 'offboard', 'bob', '--dry-run', '--json'], cli);
      expect(dry.code, `${dry.stderr}\n${server.stderr()}`).toBe(0);
      const plan = JSON.parse(dry.stdout) as Report;
      expect(plan.steps).toHaveLength(N);
      // As text: the whole plan, one line per step, in the same order.
      const text = await runBin(['principals', 'offboard', 'bob', '--dry-run'], cli);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^plan to offboard bob \(prn_\w+\); nothing was changed\n/);
      const lines = text.stdout.split('\n').filter((l) => /^\s+\d+\s+rotate_key\s+key_/.test(l));
      expect(lines.map((l) => l.trim().split(/\s+/)[2])).toEqual(plan.steps.map((s) => s.target));

      // The real run through the CLI; the server is killed while its steps run.
      const running = runBin(['principals', 'offboard', 'bob', '--json'], cli);
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      await until(
        'some steps done',
        async () => {
          const r = await api('GET', '/v1/principals/bob/offboarding');
          return r.status === 200 && r.body.done >= 200 && r.body.done < N / 2 ? true : undefined;
        },
        120_000,
        10,
      );
      await new Promise<void>((resolve) => {
        server.child.once('exit', () => resolve());
        server.child.kill('SIGKILL');
      });
      const interrupted = await running;
      expect(interrupted.code).not.toBe(0); // the CLI lost its server

      // Right after the crash: each step is either done with its successor, or not done and its key untouched.
      const store: Store = await openStore(flags.db as string | undefined, dataDir);
      let doneAtCrash: number;
      try {
        const steps = await store.all<{ target: string; done_at: number | null; result: string | null }>('SELECT target, done_at, result FROM offboarding_steps ORDER BY seq');
        doneAtCrash = steps.filter((s) => s.done_at !== null).length;
        expect(doneAtCrash).toBeGreaterThan(0);
        expect(doneAtCrash).toBeLessThan(N);
        const keys = new Map(
          (await store.all<{ id: string; status: string; predecessor_id: string | null }>('SELECT id, status, predecessor_id FROM api_keys')).map((k) => [k.id, k]),
        );
        const successorsOf = new Map<string, number>();
        for (const k of keys.values()) if (k.predecessor_id) successorsOf.set(k.predecessor_id, (successorsOf.get(k.predecessor_id) ?? 0) + 1);
        for (const s of steps) {
          if (s.done_at !== null) {
            expect(keys.get(s.target)!.status).toBe('rotating');
            expect(successorsOf.get(s.target)).toBe(1);
            expect(JSON.parse(s.result!).successor).toBe([...keys.values()].find((k) => k.predecessor_id === s.target)!.id);
          } else {
            expect(keys.get(s.target)!.status).toBe('active');
            expect(successorsOf.get(s.target)).toBeUndefined();
          }
        }
      } finally {
        await store.close();
      }

      // A new server finishes the job on its own (the runner's `principals.offboard`).
      server = await serveBin([], env);
      cli = { ...cli, KEYTURN_URL: server.url };
      const finished = await until(
        'the offboarding to finish',
        async () => {
          const r = await api('GET', '/v1/principals/bob/offboarding');
          return r.status === 200 && r.body.status === 'done' ? (r.body as Report) : undefined;
        },
        120_000,
        200,
      );
      expect(finished.steps.map((s) => [s.seq, s.action, s.target])).toEqual(plan.steps.map((s) => [s.seq, s.action, s.target]));
      expect(finished.steps.every((s) => s.outcome === 'done')).toBe(true);

      // Exactly once: one successor and one key.rotated per key, one principal.offboarded.
      const events = async (type: string) => {
        const all: { target: string }[] = [];
        for (let after = 0; ; ) {
          const page = (await api('GET', `/v1/events?type=${type}&after=${after}&limit=1000`)).body as { items: { target: string; seq: number }[]; next: number | null };
          all.push(...page.items);
          if (page.next === null) break;
          after = page.next;
        }
        return all;
      };
      const rotatedEvents = await events('key.rotated');
      expect(rotatedEvents).toHaveLength(N);
      expect(new Set(rotatedEvents.map((e) => e.target)).size).toBe(N);
      expect(await events('principal.offboarded')).toHaveLength(1);
      expect(await events('principal.offboarding_started')).toHaveLength(1);
      const successors = new Set(finished.steps.map((s) => s.detail!.successor));
      expect(successors.size).toBe(N);

      // Neither key lost: the old ones verify through their grace, the new ones once collected.
      for (const [id, secret] of secrets) {
        expect((await api('POST', '/v1/keys/verify', { key: secret })).body.valid).toBe(true);
        const successor = finished.steps.find((s) => s.target === id)!.detail!.successor!;
        const revealed = await runBin(['keys', 'reveal-successor', successor, '--json'], cli);
        expect(revealed.code, revealed.stderr).toBe(0);
        const key = (JSON.parse(revealed.stdout) as { key: string }).key;
        expect((await api('POST', '/v1/keys/verify', { key })).body.valid).toBe(true);
      }
      // Offboarding twice: refused by the CLI with the stable code.
      const again = await runBin(['principals', 'offboard', 'bob'], cli);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('ERR_CREDENTIAL_STATE');
    } finally {
      await server.stop();
      await handle?.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
