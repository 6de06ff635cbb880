import type { RequestMeta } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import type { KeyService, KeyView } from '../../keys/index.js';
import {
  clientBySecretDigest,
  disableClientIn,
  opaqueAccessTokenByDigest,
  refreshFamilyByDigest,
  revokeAccessTokenIn,
  revokeClientAccessTokens,
  revokeClientFamiliesIn,
  revokeClientSecretIn,
  revokeFamilyIn,
} from '../../oauth/index.js';
import type { Queryable, Transaction } from '../../store/port.js';
import type { KeyStanding, LeakMode } from './classify.js';
import type { CredentialRef, CredentialResponse } from './finding.js';

/**
 * The keyturn credentials a leaked secret can be, looked up where each lives (through the owning
 * capability's public entry: keys for API keys, OAuth for client secrets, refresh families and
 * opaque access tokens), and the response to each. A finding's fingerprint is the SHA-256 of the
 * secret, which is exactly the digest each of them is stored as.
 */

/** A credential of this server a leaked secret is, as the response needs it. */
export interface OurCredential {
  readonly ref: CredentialRef;
  /** As {@link KeyStanding}: an API key's status; OAuth: `active` (works), `suspended` (client disabled), `revoked`. */
  readonly standing: KeyStanding;
  /** The principal it acts for (a client's owner for OAuth credentials): told through its webhook. */
  readonly principal: string;
  readonly ownerWebhook: string | null;
  /** The OAuth client it belongs to, or `null` for an API key. */
  readonly clientId: string | null;
  /** Which of a client's secrets it is. */
  readonly which?: 'current' | 'previous';
  /** Shown to the owner: the key's start, the client's name… never the secret. */
  readonly label: string;
  /** The API key, for API keys. */
  readonly key?: KeyView;
}

const LEAK_REASON = 'leak detected';

/**
 * The credential of this server whose digest is `fingerprint`, read in `db`; `undefined` when it
 * is none (or its owner is gone: nothing to act on).
 *
 * @example
 * ```ts
 * const ours = await lookUpCredential(store, keys, secretDigest('ktcs_…'), Date.now());
 * ours?.ref; // { type: 'client_secret', id: 'ktc_…' }
 * ```
 */
export async function lookUpCredential(db: Queryable, keys: KeyService, fingerprint: string, now: number): Promise<OurCredential | undefined> {
  const owner = async (principal: string) => (await keys.ownerOf({ principal }, db)) ?? undefined;
  const key = await keys.findByDigest(fingerprint, db);
  if (key) {
    const p = await owner(key.principal);
    if (!p) return undefined;
    return { ref: { type: 'api_key', id: key.id }, standing: key.status, principal: key.principal, ownerWebhook: p.webhookUrl, clientId: null, label: `${key.name} (${key.start}…)`, key };
  }
  const client = await clientBySecretDigest(db, fingerprint, now);
  if (client) {
    const p = await owner(client.principal);
    if (!p) return undefined;
    const secretLive = client.which === 'current' || client.works || client.status === 'disabled';
    const standing: KeyStanding = client.works ? 'active' : client.status === 'disabled' && secretLive ? 'suspended' : 'revoked';
    return {
      ref: { type: 'client_secret', id: client.clientId },
      standing,
      principal: client.principal,
      ownerWebhook: p.webhookUrl,
      clientId: client.clientId,
      which: client.which,
      label: `${client.which} secret of client ${client.name}`,
    };
  }
  const family = await refreshFamilyByDigest(db, fingerprint, now);
  if (family) {
    const p = await owner(family.principal);
    if (!p) return undefined;
    return { ref: { type: 'refresh_token', id: family.grantId }, standing: family.works ? 'active' : 'revoked', principal: family.principal, ownerWebhook: p.webhookUrl, clientId: family.clientId, label: `refresh token of grant ${family.grantId}` };
  }
  const token = await opaqueAccessTokenByDigest(db, fingerprint, now);
  if (token) {
    const p = await owner(token.principal);
    if (!p) return undefined;
    return { ref: { type: 'access_token', id: token.jti }, standing: token.works ? 'active' : 'revoked', principal: token.principal, ownerWebhook: p.webhookUrl, clientId: token.clientId, label: `access token ${token.jti}` };
  }
  return undefined;
}

/**
 * What the response does to a live credential in `mode`:
 * - API key: suspended (`suspend`) or revoked (`revoke`);
 * - a client's current secret: the client is disabled (`suspend`: reversible, its tokens stop
 *   introspecting active, `clients enable` lifts it once the secret is rotated), or the secret is
 *   revoked with every refresh family and access token of the client (`revoke`);
 * - a client's previous secret, still in its rotation grace: the grace ends now (both modes; in
 *   `revoke` mode the client's families and access tokens are revoked too);
 * - a refresh token: its whole family is revoked, with its access tokens (both modes: a family
 *   has no suspension);
 * - an opaque access token: revoked (both modes).
 */
export function planResponse(credential: OurCredential, mode: LeakMode): CredentialResponse {
  switch (credential.ref.type) {
    case 'api_key':
      return mode === 'suspend' ? 'key_suspended' : 'key_revoked';
    case 'client_secret':
      return mode === 'suspend' && credential.which === 'current' ? 'client_disabled' : 'secret_revoked';
    case 'refresh_token':
      return 'grant_revoked';
    case 'access_token':
      return 'token_revoked';
  }
}

/** The finding status a response gives: `suspended` when it can be lifted, else `revoked`. */
export function statusOfResponse(response: CredentialResponse): 'suspended' | 'revoked' {
  return response === 'key_suspended' || response === 'client_disabled' ? 'suspended' : 'revoked';
}

/**
 * Carries out `response` (see {@link planResponse}) inside the finding's transaction; each change
 * appends its own event. A leaked API key that is suspended or revoked gets a successor through the
 * rotation path (sealed for an administrator: the finder of the leaked key must not be able to
 * collect it); resolves to the successor's id, or `null` when none was issued.
 */
export async function applyResponse(
  tx: Transaction,
  ctx: Context,
  keys: KeyService,
  credential: OurCredential,
  response: CredentialResponse,
  mode: LeakMode,
  meta: RequestMeta,
): Promise<string | null> {
  const { id } = credential.ref;
  switch (response) {
    case 'key_suspended':
      await keys.suspendIn(tx, id, meta, LEAK_REASON);
      return keys.issueLeakSuccessorIn(tx, id, meta);
    case 'key_revoked':
      await keys.revokeIn(tx, id, meta, LEAK_REASON);
      return keys.issueLeakSuccessorIn(tx, id, meta);
    case 'client_disabled':
      await disableClientIn(tx, ctx, id, LEAK_REASON, meta);
      return null;
    case 'secret_revoked':
      await revokeClientSecretIn(tx, ctx, id, credential.which ?? 'current', LEAK_REASON, meta);
      if (mode === 'revoke') {
        await revokeClientFamiliesIn(tx, ctx, id, LEAK_REASON, meta);
        await revokeClientAccessTokens(tx, id);
      }
      return null;
    case 'grant_revoked':
      await revokeFamilyIn(tx, ctx, id, LEAK_REASON, meta);
      return null;
    case 'token_revoked':
      await revokeAccessTokenIn(tx, ctx, id, LEAK_REASON, meta);
      return null;
  }
}
