import type { Context } from '../core/context.js';
import type { OffboardingParticipant, PlannedStep, StepResult } from '../principals/index.js';
import { activeAccessTokensOf, revokeAccessTokenIn } from './access-tokens.js';
import { clientsOwnedBy, disableClientIn, transferClientIn, type ClientService } from './clients.js';
import { activeFamiliesOf, activeFamiliesOfClients, revokeFamilyIn } from './refresh-tokens.js';

const REASON = 'offboarding';

const done = (detail: Record<string, string | null> = {}): StepResult => ({ outcome: 'done', detail });
const skipped = (reason: string): StepResult => ({ outcome: 'skipped', detail: { reason } });

/**
 * OAuth's part of offboarding a person: their refresh-token families (with their access tokens),
 * every refresh-token family of a client they own (whoever it was issued for: the person ran that
 * client and could have copied its refresh tokens; there are no exposure records for them), and
 * their other access tokens are revoked; the clients they own are disabled, or handed over to
 * `transferTo`; every client secret they created or revealed, of a client still working (and
 * owned by someone else, or handed over), is rotated with its policy's grace and the new secret
 * sealed for an administrator.
 */
export function oauthOffboarding(ctx: Context, clients: ClientService): OffboardingParticipant {
  return {
    actions: ['revoke_grant', 'revoke_access_token', 'disable_client', 'transfer_client', 'rotate_client_secret'],
    async plan(db, subject, now) {
      const p = subject.principal.id;
      const owned = await clientsOwnedBy(db, p);
      // Why the owned clients' families too: a family is the client's grant, not only its principal's, and the new owner
      // (or nobody, once disabled) must not inherit sessions the person could have copied. Revoked before the handover,
      // as steps of their own, so the dry run lists each one.
      const inFamilies = new Set([...(await activeFamiliesOf(db, p, now)), ...(await activeFamiliesOfClients(db, owned.map((c) => c.id), now))]);
      const families = [...inFamilies];
      const tokens = (await activeAccessTokensOf(db, p, now)).filter((t) => t.grantId === null || !inFamilies.has(t.grantId));
      const steps: PlannedStep[] = [
        ...families.map((id) => ({ action: 'revoke_grant' as const, target: id })),
        ...tokens.map((t) => ({ action: 'revoke_access_token' as const, target: t.jti })),
      ];
      if (subject.transferTo) steps.push(...owned.map((c) => ({ action: 'transfer_client' as const, target: c.id })));
      else steps.push(...owned.filter((c) => c.status === 'active').map((c) => ({ action: 'disable_client' as const, target: c.id })));
      const exposed = subject.exposures.filter((e) => e.type === 'client_secret').map((e) => e.id);
      // A client the person owns is disabled (nothing to rotate) unless it is handed over: then its secret is rotated too.
      for (const c of await clients.rotatableSecrets(db, exposed)) {
        if (c.principal !== p || subject.transferTo) steps.push({ action: 'rotate_client_secret', target: c.id });
      }
      return steps;
    },
    async apply(tx, step, subject, meta) {
      switch (step.action) {
        case 'revoke_grant':
          return (await revokeFamilyIn(tx, ctx, step.target, REASON, meta)) ? done() : skipped('not active any more');
        case 'revoke_access_token':
          return (await revokeAccessTokenIn(tx, ctx, step.target, REASON, meta)) ? done() : skipped('not active any more');
        case 'disable_client':
          return (await disableClientIn(tx, ctx, step.target, REASON, meta)) ? done() : skipped('already disabled');
        case 'transfer_client':
          if (!subject.transferTo) return skipped('no principal to hand it over to');
          return (await transferClientIn(tx, ctx, step.target, subject.principal.id, subject.transferTo.id, meta)) ? done({ to: subject.transferTo.id }) : skipped('owned by someone else now');
        case 'rotate_client_secret': {
          const r = await clients.rotateSecretSealedIn(tx, step.target, meta);
          return done({ previousValidUntil: r.previousValidUntil });
        }
        default:
          return skipped(`not an OAuth step: ${step.action}`);
      }
    },
  };
}
