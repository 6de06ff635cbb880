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
  /** Where a reporter saw it (public reports, GitHub). */
  readonly url?: string;
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
 * What a finding is: `suspended`/`revoked` (our live key, acted on), `inactive` (our key,
 * already suspended, revoked or retired), `unknown` (keyturn-shaped, not one of our API keys),
 * `third_party` (someone else's secret: reported, not acted on).
 */
export const FINDING_STATUSES = ['suspended', 'revoked', 'inactive', 'unknown', 'third_party'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

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
  /** What this report did to the key. */
  readonly action: 'suspended' | 'revoked' | 'none';
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
