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
  /** Overlap during which a rotated client secret keeps working; also the longest overlap a rotation may ask for. */
  readonly secretRotationGrace: number;
  /** Age at which a client secret is rotated by the scheduler; `null`: only on demand. */
  readonly secretRotationInterval: number | null;
  /** Age at which a client secret reaches its deadline (see {@link deadline}); `null`: none. */
  readonly secretMaxAge: number | null;
  /** Age at which an API key is rotated by the scheduler (its successor waits for pick-up); `null`: only on demand. */
  readonly keyRotationInterval: number | null;
  /** Age at which an API key reaches its deadline (see {@link deadline}); `null`: none. */
  readonly keyMaxAge: number | null;
  /** Overlap during which a rotated API key keeps verifying; also the longest overlap a rotation may ask for. */
  readonly keyRotationGrace: number;
  /**
   * What happens when a credential reaches its deadline — its maximum age, or the end of its grace
   * after a rotation: `hard`, it stops working; `soft`, it keeps working, flagged in every
   * verification answer and reported once by an event.
   */
  readonly deadline: 'hard' | 'soft';
  /**
   * The binding (sender constraint) a token must carry: `none` (a bearer token; a client may still
   * ask for a DPoP-bound one), `dpop` (RFC 9449 `cnf.jkt`), `mtls` (RFC 8705 `cnf["x5t#S256"]`),
   * `tls-session` (the RFC 9266 exporter digest of the connection), or `any` (at least one of them).
   * A token request that cannot produce the binding is refused.
   */
  readonly binding: Binding;
}

/** The bindings a policy may require, weakest first but for the three equally strong kinds. */
export const BINDINGS = ['none', 'any', 'dpop', 'mtls', 'tls-session'] as const;
export type Binding = (typeof BINDINGS)[number];

/**
 * The `cnf` member (RFC 7800) each kind of binding puts in a token. A verifier refuses a token
 * whose `cnf` has a member it does not know (fail closed).
 */
export const CNF_MEMBERS = { dpop: 'jkt', mtls: 'x5t#S256', 'tls-session': 'tls_exporter#S256' } as const satisfies Record<Exclude<Binding, 'none' | 'any'>, string>;

/** How strong a binding requirement is: none, any kind, one named kind. */
function bindingRank(binding: Binding): number {
  return binding === 'none' ? 0 : binding === 'any' ? 1 : 2;
}

/**
 * Whether a token with confirmation `cnf` satisfies `required`. `any` takes any known member.
 *
 * @example
 * ```ts
 * satisfiesBinding('dpop', { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }); // true
 * satisfiesBinding('dpop', undefined); // false
 * ```
 */
export function satisfiesBinding(required: Binding, cnf: Readonly<Record<string, string>> | undefined): boolean {
  if (required === 'none') return true;
  if (cnf === undefined) return false;
  if (required === 'any') return Object.values(CNF_MEMBERS).some((member) => typeof cnf[member] === 'string');
  return typeof cnf[CNF_MEMBERS[required]] === 'string';
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
    secretRotationInterval: null,
    secretMaxAge: null,
    keyRotationInterval: null,
    keyMaxAge: null,
    keyRotationGrace: DAY,
    deadline: 'hard',
    binding: 'none',
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
    secretRotationInterval: DAY,
    secretMaxAge: 7 * DAY,
    keyRotationInterval: DAY,
    keyMaxAge: 7 * DAY,
    keyRotationGrace: HOUR,
    deadline: 'hard',
    binding: 'none',
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
    secretRotationInterval: 365 * DAY,
    secretMaxAge: 2 * 365 * DAY,
    keyRotationInterval: 365 * DAY,
    keyMaxAge: 2 * 365 * DAY,
    keyRotationGrace: 30 * DAY,
    deadline: 'soft',
    binding: 'none',
  },
  internal: {
    name: 'internal',
    accessTokenTtl: 10 * MINUTE,
    accessTokenFormat: 'jwt',
    refreshTokens: true,
    clientCredentialsRefresh: false,
    refreshTokenTtl: 7 * DAY,
    refreshFamilyTtl: 30 * DAY,
    refreshReuseGraceSeconds: 10,
    refreshReuseGraceCount: 1,
    exchangeTokenTtl: 5 * MINUTE,
    secretRotationGrace: DAY,
    secretRotationInterval: 30 * DAY,
    secretMaxAge: 90 * DAY,
    keyRotationInterval: 30 * DAY,
    keyMaxAge: 90 * DAY,
    keyRotationGrace: DAY,
    deadline: 'hard',
    binding: 'none',
  },
});

export type PolicyOverrides = Partial<Omit<Policy, 'name'>>;

/** `ERR_VALIDATION` for a policy name that is not among `known`. */
export function unknownPolicy(name: string, known: readonly string[]): KeyturnError {
  return new KeyturnError('ERR_VALIDATION', `policy: unknown policy "${name.slice(0, 64)}" (known: ${known.join(', ')})`);
}

/** The preset `name` with `overrides` applied; `ERR_VALIDATION` for an unknown preset. */
export function resolvePolicy(name: string, overrides: PolicyOverrides = {}): Policy {
  // Own presets only: `toString` or `constructor` are not policies.
  const base = Object.hasOwn(POLICY_PRESETS, name) ? POLICY_PRESETS[name] : undefined;
  if (!base) throw unknownPolicy(name, Object.keys(POLICY_PRESETS));
  return { ...base, ...overrides, name };
}

/** A stored policy at one of its versions. */
export interface PolicyVersion {
  readonly policy: Policy;
  readonly version: number;
}

/**
 * Where services find stored policies (the rotation capability implements it; services receive it,
 * so they never read its table): the current version of a name, or a given version.
 */
export interface PolicyCatalog {
  /** The current version of `name`; `ERR_VALIDATION` naming the known policies when there is none. */
  current(name: string): PolicyVersion;
  /** `name` at `version` (versions are never changed or removed); `undefined` if unknown. */
  at(name: string, version: number): PolicyVersion | undefined;
  /** The deployment's default policy name (what a key falls back to after its principal's). */
  readonly defaultName: string;
  /** Refreshes the catalog when `name` (at `version`) is not known yet: another node may have just created it. */
  ensure?(name: string, version?: number): Promise<void>;
}

/** A catalog of the presets alone, each at version 1: for code and tests that run without a store. */
export function presetCatalog(defaultName = 'default'): PolicyCatalog {
  return {
    defaultName,
    current: (name) => ({ policy: resolvePolicy(name), version: 1 }),
    at: (name, version) => (version === 1 && Object.hasOwn(POLICY_PRESETS, name) ? { policy: POLICY_PRESETS[name]!, version: 1 } : undefined),
  };
}

/** `null` lifetimes mean "never": longer than any number. */
const longer = (before: number | null, after: number | null) => (after === null ? before !== null : before !== null && after > before);

/**
 * What a change from `before` to `after` weakens, by field (longer lifetimes, intervals or grace,
 * more reuse allowed, refresh tokens turned on, opaque access tokens turned into JWTs that cannot
 * be revoked before they expire, a soft deadline, a weaker binding: a named kind to `any` or `none`,
 * `any` to `none`). Empty when nothing is weaker.
 */
export function policyWeakenings(before: Policy, after: Policy): string[] {
  const out: string[] = [];
  const lifetimes = [
    'accessTokenTtl',
    'refreshTokenTtl',
    'refreshFamilyTtl',
    'refreshReuseGraceSeconds',
    'refreshReuseGraceCount',
    'exchangeTokenTtl',
    'secretRotationGrace',
    'secretRotationInterval',
    'secretMaxAge',
    'keyRotationInterval',
    'keyMaxAge',
    'keyRotationGrace',
  ] as const;
  for (const field of lifetimes) if (longer(before[field], after[field])) out.push(field);
  if (!before.refreshTokens && after.refreshTokens) out.push('refreshTokens');
  if (!before.clientCredentialsRefresh && after.clientCredentialsRefresh) out.push('clientCredentialsRefresh');
  if (before.accessTokenFormat === 'opaque' && after.accessTokenFormat === 'jwt') out.push('accessTokenFormat');
  if (before.deadline === 'hard' && after.deadline === 'soft') out.push('deadline');
  if (bindingRank(after.binding) < bindingRank(before.binding)) out.push('binding');
  return out;
}
