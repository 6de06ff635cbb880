/**
 * The words of the leak response: a finding (one secret, by its fingerprint), the places it was
 * seen, what was done about it, and the answers the admin API gives. Types and limits only.
 */

/** How a finding reached keyturn. */
export const SIGHTING_VIA = ['scan', 'watch', 'report', 'github'] as const;
export type SightingVia = (typeof SIGHTING_VIA)[number];

/** Where a secret was seen. Text is stripped of URL credentials and keyturn secrets before storage. */
export interface Sighting {
  readonly via: SightingVia;
  /** What was scanned: a path, git URL or `s3://…` URL. */
  readonly source?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly commit?: string;
  /** A URL given by the scan (its source) or by GitHub (where it found the secret). */
  readonly url?: string;
  /**
   * Where an anonymous public reporter says they saw it: unverified text, stored and shown
   * defanged (`hxxps://example[.]com/x`, see `untrustedText`) and never as a link.
   */
  readonly untrustedUrl?: string;
  readonly watchId?: string;
}

/** A finding as the response takes it: the fingerprint stands for the secret. */
export interface ReportedFinding {
  /** SHA-256 (hex) of the secret. */
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly where: Sighting;
}

/** One outside report of a token (public report endpoint, GitHub partner program). */
export interface TokenReport {
  readonly token: string;
  readonly url?: string;
  /** GitHub: where it was found (`content`, `commit`, `issue`…). */
  readonly source?: string;
}

/**
 * What a finding is: `suspended`/`revoked` (a live credential of ours, acted on: a key suspended
 * or a client disabled / a key revoked, a client secret, refresh family or access token
 * revoked), `held` (a live admin key left working: see {@link HeldReason}), `inactive` (ours,
 * already not working), `unknown` (keyturn-shaped, no credential of this server), `third_party`
 * (someone else's secret: reported, not acted on).
 */
export const FINDING_STATUSES = ['suspended', 'revoked', 'held', 'inactive', 'unknown', 'third_party'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/** The keyturn credentials a leaked secret can be, each looked up where it lives. */
export const CREDENTIAL_TYPES = ['api_key', 'client_secret', 'refresh_token', 'access_token'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/**
 * Why a live admin key found leaked was left working (and only reported): `last_admin`, it is
 * the last working admin credential and the policy does not consent (`leakSuspendLastAdmin`);
 * `own_credential`, the scan that reported it authenticated with that very key.
 */
export const HELD_REASONS = ['last_admin', 'own_credential'] as const;
export type HeldReason = (typeof HELD_REASONS)[number];

/** What the response did to the credential. */
export type CredentialResponse = 'key_suspended' | 'key_revoked' | 'client_disabled' | 'secret_revoked' | 'grant_revoked' | 'token_revoked';

/** The keyturn credential a finding is. */
export interface CredentialRef {
  readonly type: CredentialType;
  /** Key id, client id, grant (refresh family) id or jti. */
  readonly id: string;
}

/** The answer for one distinct secret of a batch. */
export interface ResponseOutcome {
  readonly findingId: string;
  /** The fingerprint as reported (the finding stores a non-keyturn one keyed again, see `rekeyFingerprint`). */
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly status: FindingStatus;
  readonly keyId: string | null;
  /** `false` when the secret had been reported before: nothing was done again. */
  readonly new: boolean;
  /** What this report did to the credential: suspended (a key, or a client disabled), revoked, or nothing. */
  readonly action: 'suspended' | 'revoked' | 'none';
  /** The keyturn credential the secret is, and what this report did to it (`response`, `null`: nothing). */
  readonly credential: (CredentialRef & { readonly response: CredentialResponse | null }) | null;
  /** Why a live admin key was left working, if it was. */
  readonly held: HeldReason | null;
  /** Webhook deliveries queued by this report. */
  readonly notifications: number;
}

/** A recorded finding as the admin API shows it. */
export interface FindingView {
  readonly id: string;
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly status: FindingStatus;
  readonly keyId: string | null;
  readonly principal: string | null;
  readonly credential: CredentialRef | null;
  readonly held: HeldReason | null;
  /** When an administrator acknowledged it to unsuspend the key, and who; `null` while open. */
  readonly acknowledged: { readonly at: string; readonly by: string | null } | null;
  readonly sightings: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Only when one finding is read: the places it was seen, newest first. */
  readonly places?: readonly PlaceView[];
}

/** A place a finding was seen, with when. */
export interface PlaceView extends Sighting {
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** A fingerprint: SHA-256 of a keyturn secret, or an HMAC-SHA256 of any other (`src/core/fingerprint.ts`); 64 lower-case hex digits. */
export const FINGERPRINT = /^[0-9a-f]{64}$/;

/** At most this many distinct places are kept per finding; later ones only bump `lastSeen`. */
export const MAX_SIGHTINGS = 100;

/** At most this many findings per `POST /v1/leaks/findings`. */
export const MAX_BATCH = 1000;
