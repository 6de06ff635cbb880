import { randomBytes } from 'node:crypto';
import type { RequestMeta } from '../../src/audit/events.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { KeyService } from '../../src/keys/service.js';
import { ClientService } from '../../src/oauth/clients.js';
import { PrincipalService } from '../../src/principals/service.js';
import { PolicyService } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store, Transaction } from '../../src/store/port.js';
import { freshStore, type StoreHandle, type StoreKind } from '../support/stores.js';

export const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

/** One node's rotation parts on `store`, wired as the runtime wires them. */
export interface RotationNode {
  readonly policies: PolicyService;
  readonly principals: PrincipalService;
  readonly keys: KeyService;
  readonly clients: ClientService;
  close(): void;
}

/** Builds a node; `masterKey` must be the same for nodes that pick each other's successors up. */
export async function rotationNode(store: Store, ctx: ManualContext, masterKey: Uint8Array = randomBytes(32), migrate = true): Promise<RotationNode> {
  if (migrate) await store.migrate(MIGRATIONS);
  const policies = new PolicyService({ store, ctx });
  await policies.load();
  // On PostgreSQL the change feed's LISTEN is set up in the background: wait for it, as the other feed tests do.
  await (store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
  const principals = new PrincipalService(store, ctx, { policies });
  const keys = new KeyService({ store, ctx, principals, prefix: 'kt_test', policies, sealer: new KeyEncryption(masterKey, ctx) });
  const clients = new ClientService({ store, ctx, principals, secretPrefix: 'ktcs', defaultAudience: () => 'https://issuer.test', policies, sealer: new KeyEncryption(masterKey, ctx) });
  policies.countWith((name) => keys.policyCounts(name));
  policies.countWith((name) => clients.policyCounts(name));
  return {
    policies,
    principals,
    keys,
    clients,
    close() {
      keys.close();
      clients.close();
      policies.close();
    },
  };
}

/** A fresh, migrated store of `kind` with one rotation node on it, its clock at 2030-01-01. */
export interface RotationFixture {
  readonly handle: StoreHandle;
  readonly store: Store;
  readonly ctx: ManualContext;
  readonly node: RotationNode;
}

export async function rotationFixture(kind: StoreKind, masterKey: Uint8Array): Promise<RotationFixture> {
  const handle = await freshStore(kind);
  const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
  return { handle, store: handle.store, ctx, node: await rotationNode(handle.store, ctx, masterKey) };
}

/** Closes what {@link rotationFixture} opened. */
export async function closeFixture(fixture: Pick<RotationFixture, 'handle' | 'node'>): Promise<void> {
  fixture.node.close();
  await fixture.handle.dispose();
}

/** Every event of `type` in the store, in order. */
export async function eventsOf(store: Store, type: string): Promise<{ target: string | null; reason: string | null; data: Record<string, unknown> }[]> {
  const rows = await store.all<{ target: string | null; reason: string | null; data: string }>('SELECT target, reason, data FROM events WHERE type = ? ORDER BY seq', [type]);
  return rows.map((r) => ({ target: r.target, reason: r.reason, data: JSON.parse(r.data) as Record<string, unknown> }));
}

/** How many rows `table` has (to prove a refused call wrote nothing). */
export async function countRows(store: Store, table: string): Promise<number> {
  return Number((await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);
}

/** `store`, counting the statements of each transaction (each one a round trip on PostgreSQL). */
export function counting(store: Store): { store: Store; perTransaction: number[] } {
  const perTransaction: number[] = [];
  const wrapped: Store = {
    dialect: store.dialect,
    all: (sql, params) => store.all(sql, params),
    get: (sql, params) => store.get(sql, params),
    run: (sql, params) => store.run(sql, params),
    subscribe: (channel, listener) => store.subscribe(channel, listener),
    migrate: (migrations) => store.migrate(migrations),
    close: () => store.close(),
    transaction: (fn) =>
      store.transaction(async (tx) => {
        let n = 0;
        const counted: Transaction = {
          dialect: tx.dialect,
          all: (sql, params) => (n++, tx.all(sql, params)),
          get: (sql, params) => (n++, tx.get(sql, params)),
          run: (sql, params) => (n++, tx.run(sql, params)),
          notify: (channel, payload) => tx.notify(channel, payload),
        };
        try {
          return await fn(counted);
        } finally {
          perTransaction.push(n);
        }
      }),
  };
  return { store: wrapped, perTransaction };
}
