import { appendEvent, type RequestMeta } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import type { KeyLeakGuard } from '../../keys/index.js';
import type { ClientLeakGuard } from '../../oauth/index.js';
import type { Transaction } from '../../store/port.js';
import { acknowledgeFindings, openFindingsOfCredential, openFindingsOfKey } from './findings-store.js';

/**
 * The leak response's side of unsuspending a key (the keys capability calls it through
 * {@link KeyLeakGuard}, never reading the findings itself): a key with an open (unacknowledged)
 * finding is unsuspended only with an explicit acknowledgement, which is recorded on the
 * findings (who, when) and as one `leak.acknowledged` event. A later sighting reopens them.
 *
 * @example
 * ```ts
 * const keys = new KeyService({ store, ctx, principals, prefix, leakGuard: keyLeakGuard(ctx) });
 * ```
 */
export function keyLeakGuard(ctx: Context): KeyLeakGuard {
  return {
    openFindings: (tx: Transaction, keyId: string) => openFindingsOfKey(tx, keyId),
    async acknowledge(tx: Transaction, keyId: string, findings: readonly string[], meta: RequestMeta): Promise<void> {
      await acknowledgeFindings(tx, findings, meta.actor, ctx.now().getTime());
      await appendEvent(tx, ctx, { type: 'leak.acknowledged', target: keyId, outcome: 'success', data: { findings: [...findings] } }, meta);
    },
  };
}

/**
 * The same for enabling an OAuth client whose secret was found leaked (the leak response disabled
 * it): the open findings of its secret (current or previous) must be acknowledged explicitly, and
 * who did is recorded on them and in one `leak.acknowledged` event (`credential: client_secret`).
 *
 * @example
 * ```ts
 * const clients = new ClientService({ store, ctx, principals, secretPrefix, defaultAudience, leakGuard: clientLeakGuard(ctx) });
 * ```
 */
export function clientLeakGuard(ctx: Context): ClientLeakGuard {
  return {
    openFindings: (tx: Transaction, clientId: string) => openFindingsOfCredential(tx, 'client_secret', clientId),
    async acknowledge(tx: Transaction, clientId: string, findings: readonly string[], meta: RequestMeta): Promise<void> {
      await acknowledgeFindings(tx, findings, meta.actor, ctx.now().getTime());
      await appendEvent(tx, ctx, { type: 'leak.acknowledged', target: clientId, outcome: 'success', data: { findings: [...findings], credential: 'client_secret' } }, meta);
    },
  };
}
