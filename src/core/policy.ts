import { KeyturnError } from './errors.js';

/**
 * The lifetime and rotation rules a credential follows. Durations are in seconds.
 * Named presets ship; a client names one (`policy`) and may override single fields.
 */
export interface Policy {
  readonly name: string;
  /** Access token lifetime. */
  readonly accessTokenTtl: number;
  /** `jwt` (RFC 9068, verifiable offline) or `opaque` (keyturn secret, checked by introspection). */
  readonly accessTokenFormat: 'jwt' | 'opaque';
  /** Whether refresh tokens may be issued (to clients that also list the `refresh_token` grant type). */
  readonly refreshTokens: boolean;
  /**
   * Whether a `client_credentials` grant starts a refresh token family. Off in every preset: RFC 6749
   * §4.4.3 says a refresh token SHOULD NOT be included there (the client can always ask again). A client
   * asks for it with `policyOverrides: { clientCredentialsRefresh: true }` (and the `refresh_token` grant type).
   */
  readonly clientCredentialsRefresh: boolean;
  /** Lifetime of each refresh token from its issue (idle lifetime: each rotation starts a new one). */
  readonly refreshTokenTtl: number;
  /** Absolute lifetime of a refresh token family (the grant), whatever the rotations. */
  readonly refreshFamilyTtl: number;
  /** Seconds after its use in which the immediately previous refresh token may be used again. */
  readonly refreshReuseGraceSeconds: number;
  /** How many extra uses that grace allows. */
  readonly refreshReuseGraceCount: number;
  /** Lifetime of access tokens from token exchange (capped by the subject token's own expiry). */
  readonly exchangeTokenTtl: number;
  /** Overlap during which a rotated client secret keeps working. */
  readonly secretRotationGrace: number;
}

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

/** Presets from minutes (banking writes) to a year (public reads). */
export const POLICY_PRESETS: Readonly<Record<string, Policy>> = Object.freeze({
  default: {
    name: 'default',
    accessTokenTtl: 15 * MINUTE,
    accessTokenFormat: 'jwt',
    refreshTokens: true,
    clientCredentialsRefresh: false,
    refreshTokenTtl: 30 * DAY,
    refreshFamilyTtl: 90 * DAY,
    refreshReuseGraceSeconds: 10,
    refreshReuseGraceCount: 1,
    exchangeTokenTtl: 5 * MINUTE,
    secretRotationGrace: DAY,
  },
  banking: {
    name: 'banking',
    accessTokenTtl: 5 * MINUTE,
    accessTokenFormat: 'opaque',
    refreshTokens: true,
    clientCredentialsRefresh: false,
    refreshTokenTtl: 30 * MINUTE,
    refreshFamilyTtl: 12 * HOUR,
    refreshReuseGraceSeconds: 0,
    refreshReuseGraceCount: 0,
    exchangeTokenTtl: 2 * MINUTE,
    secretRotationGrace: HOUR,
  },
  'public-read': {
    name: 'public-read',
    accessTokenTtl: 24 * HOUR,
    accessTokenFormat: 'jwt',
    refreshTokens: true,
    clientCredentialsRefresh: false,
    refreshTokenTtl: 365 * DAY,
    refreshFamilyTtl: 365 * DAY,
    refreshReuseGraceSeconds: 60,
    refreshReuseGraceCount: 3,
    exchangeTokenTtl: HOUR,
    secretRotationGrace: 7 * DAY,
  },
});

export type PolicyOverrides = Partial<Omit<Policy, 'name'>>;

/** The preset `name` with `overrides` applied; `ERR_VALIDATION` for an unknown preset. */
export function resolvePolicy(name: string, overrides: PolicyOverrides = {}): Policy {
  // Own presets only: `toString` or `constructor` are not policies.
  const base = Object.hasOwn(POLICY_PRESETS, name) ? POLICY_PRESETS[name] : undefined;
  if (!base) {
    throw new KeyturnError('ERR_VALIDATION', `policy: unknown preset "${name.slice(0, 64)}" (known: ${Object.keys(POLICY_PRESETS).join(', ')})`);
  }
  return { ...base, ...overrides, name };
}
