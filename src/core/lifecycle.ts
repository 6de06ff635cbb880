import { KeyturnError, type KeyturnErrorCode } from './errors.js';

/**
 * The status lifecycles of everything keyturn issues or keeps, declared once: states, actions, the
 * table of allowed `(state, action) → next state`, and which states are **live** (the credential
 * works: a key verifies, a secret authenticates, a family refreshes, a signing key signs). Services
 * ask {@link transition} before changing a status and {@link isLive} / {@link isLiveAt} before
 * honouring one; a test walks every `(state, action)` pair of every table.
 *
 * A cell whose next state is the current one is an idempotent no-op (suspending a suspended key
 * answers the key unchanged, with no event); a missing cell is refused with the lifecycle's error
 * code. Expiry is not a state: it is time, applied on top of liveness by {@link isLiveAt}.
 *
 * The credential lifecycle (DESIGN):
 * ```
 *           rotate (successor issued)           grace ends
 *  active ─────────────────────────────▶ rotating ─────────▶ retired
 *    │  ▲                                   │
 *    │  └──── unsuspend ── suspended ◀──────┤  leak found / detection
 *    │                                      │
 *    └────────────── revoke ────────────────┴──▶ revoked   (terminal)
 * ```
 *
 * @example
 * ```ts
 * const step = transition(API_KEY_LIFECYCLE, row.status, 'suspend'); // throws ERR_KEY_STATE when refused
 * if (!step.changed) return view(row);                               // already suspended: no-op
 * isLive(API_KEY_LIFECYCLE, 'rotating'); // true: a rotating key still verifies
 * ```
 */
export interface Lifecycle<S extends string, A extends string> {
  /** What the lifecycle governs, in error messages: `key`, `principal`, … */
  readonly noun: string;
  /** The code of a refused transition. */
  readonly code: KeyturnErrorCode;
  readonly states: readonly S[];
  readonly actions: readonly A[];
  /** States in which the thing works. */
  readonly live: readonly S[];
  /** States no action leaves. */
  readonly terminal: readonly S[];
  /** Allowed `(state, action) → next state`; a next state equal to the current one is a no-op. */
  readonly table: { readonly [state in S]: { readonly [action in A]?: S } };
}

/** The states of a lifecycle, as a type. */
export type StateOf<L> = L extends Lifecycle<infer S, string> ? S : never;
/** The actions of a lifecycle, as a type. */
export type ActionOf<L> = L extends Lifecycle<string, infer A> ? A : never;

/** A transition that is allowed: `changed` is false for an idempotent no-op (`from === to`). */
export interface Step<S extends string> {
  readonly from: S;
  readonly to: S;
  readonly changed: boolean;
}

const PARTICIPLES: Readonly<Record<string, string>> = {
  rotate: 'rotated',
  retire: 'retired',
  suspend: 'suspended',
  unsuspend: 'unsuspended',
  revoke: 'revoked',
  enable: 'enabled',
  disable: 'disabled',
  offboard: 'offboarded',
  activate: 'activated',
  use: 'used',
};

/** The state `action` leads to from `state`, or `undefined` when it is refused. */
export function nextState<S extends string, A extends string>(lifecycle: Lifecycle<S, A>, state: S, action: A): S | undefined {
  const row = lifecycle.table[state] as { readonly [action in A]?: S } | undefined;
  return row?.[action];
}

/**
 * The step `action` takes from `state`, or a {@link KeyturnError} with the lifecycle's code
 * (`a revoked key cannot be suspended`) when the table does not allow it. Also refuses a state the
 * lifecycle does not know (a corrupt row), never treating it as live.
 */
export function transition<S extends string, A extends string>(lifecycle: Lifecycle<S, A>, state: S, action: A): Step<S> {
  const to = nextState(lifecycle, state, action);
  if (to === undefined) {
    const article = /^[aeiou]/.test(state) ? 'an' : 'a';
    throw new KeyturnError(lifecycle.code, `${article} ${state} ${lifecycle.noun} cannot be ${PARTICIPLES[action] ?? action}`, {
      details: { state, action },
    });
  }
  return { from: state, to, changed: to !== state };
}

/** Whether something in `state` works: the one definition of "live" for each lifecycle. */
export function isLive<S extends string>(lifecycle: Lifecycle<S, string>, state: string): state is S {
  return (lifecycle.live as readonly string[]).includes(state);
}

/** {@link isLive}, and not expired at `now` (`expiresAt` in ms, `null`: never expires). */
export function isLiveAt<S extends string>(lifecycle: Lifecycle<S, string>, state: string, expiresAt: number | null, now: number): boolean {
  return isLive(lifecycle, state) && (expiresAt === null || expiresAt > now);
}

const CREDENTIAL_STATES = ['active', 'rotating', 'suspended', 'retired', 'revoked'] as const;
const CREDENTIAL_ACTIONS = ['rotate', 'retire', 'suspend', 'unsuspend', 'revoke'] as const;
type CredentialState = (typeof CREDENTIAL_STATES)[number];
type CredentialAction = (typeof CREDENTIAL_ACTIONS)[number];

/** The credential table of the DESIGN lifecycle, shared by API keys and client secrets. */
const CREDENTIAL_TABLE: Lifecycle<CredentialState, CredentialAction>['table'] = {
  active: { rotate: 'rotating', suspend: 'suspended', unsuspend: 'active', revoke: 'revoked' },
  rotating: { retire: 'retired', suspend: 'suspended', revoke: 'revoked' },
  suspended: { suspend: 'suspended', unsuspend: 'active', revoke: 'revoked' },
  retired: { revoke: 'revoked' },
  revoked: { revoke: 'revoked' },
};

/**
 * API keys. Live: `active` and `rotating` (the old key keeps working through its grace). A
 * refused transition is `ERR_KEY_STATE`: that code predates the others, is on the wire for
 * `POST /v1/keys/:id/{suspend,unsuspend}`, and means exactly "this API key's state", so it stays.
 */
export const API_KEY_LIFECYCLE: Lifecycle<CredentialState, CredentialAction> = {
  noun: 'key',
  code: 'ERR_KEY_STATE',
  states: CREDENTIAL_STATES,
  actions: CREDENTIAL_ACTIONS,
  live: ['active', 'rotating'],
  terminal: ['revoked'],
  table: CREDENTIAL_TABLE,
};

/**
 * An OAuth client's secret: the current one is `active`; after a rotation the previous one is
 * `rotating` (still accepted) until its grace ends, then `retired`. Same table as API keys.
 */
export const CLIENT_SECRET_LIFECYCLE: Lifecycle<CredentialState, CredentialAction> = {
  ...API_KEY_LIFECYCLE,
  noun: 'client secret',
  code: 'ERR_CREDENTIAL_STATE',
};

/** An OAuth client: `disabled` refuses its authentication until enabled again. Both actions are idempotent. */
export const CLIENT_LIFECYCLE: Lifecycle<'active' | 'disabled', 'enable' | 'disable'> = {
  noun: 'client',
  code: 'ERR_CREDENTIAL_STATE',
  states: ['active', 'disabled'],
  actions: ['enable', 'disable'],
  live: ['active'],
  terminal: [],
  table: {
    active: { enable: 'active', disable: 'disabled' },
    disabled: { enable: 'active', disable: 'disabled' },
  },
};

/**
 * A refresh-token family (grant). Live: `active` (and not past its expiry); a revoked family stays
 * revoked — reuse detection, client revocation and an inactive principal all end here.
 */
export const REFRESH_FAMILY_LIFECYCLE: Lifecycle<'active' | 'revoked', 'revoke'> = {
  noun: 'grant',
  code: 'ERR_CREDENTIAL_STATE',
  states: ['active', 'revoked'],
  actions: ['revoke'],
  live: ['active'],
  terminal: ['revoked'],
  table: {
    active: { revoke: 'revoked' },
    revoked: { revoke: 'revoked' },
  },
};

/**
 * One refresh token of a family: `active` until presented (`used`: its child takes over; a used
 * token presented again is the grace reuse or reuse detection), `revoked` with its family.
 */
export const REFRESH_TOKEN_LIFECYCLE: Lifecycle<'active' | 'used' | 'revoked', 'use' | 'revoke'> = {
  noun: 'refresh token',
  code: 'ERR_CREDENTIAL_STATE',
  states: ['active', 'used', 'revoked'],
  actions: ['use', 'revoke'],
  live: ['active'],
  terminal: ['revoked'],
  table: {
    active: { use: 'used', revoke: 'revoked' },
    used: { revoke: 'revoked' },
    revoked: { revoke: 'revoked' },
  },
};

/**
 * A principal. Live: `active` (its keys verify, its clients get tokens). `offboarded` is terminal:
 * a person who left is not enabled again, and not offboarded a second time (an offboarding is a
 * recorded job with a plan; a second one would be a second plan, so it is refused, not a no-op).
 */
export const PRINCIPAL_LIFECYCLE: Lifecycle<'active' | 'disabled' | 'offboarded', 'enable' | 'disable' | 'offboard'> = {
  noun: 'principal',
  code: 'ERR_CREDENTIAL_STATE',
  states: ['active', 'disabled', 'offboarded'],
  actions: ['enable', 'disable', 'offboard'],
  live: ['active'],
  terminal: ['offboarded'],
  table: {
    active: { enable: 'active', disable: 'disabled', offboard: 'offboarded' },
    disabled: { enable: 'active', disable: 'disabled', offboard: 'offboarded' },
    offboarded: {},
  },
};

/**
 * A signing key of keyturn itself: `next` (published, not yet signing) → `active` (signs) →
 * `retired` (published until its last token expires). Live: `active`.
 */
export const SIGNING_KEY_LIFECYCLE: Lifecycle<'next' | 'active' | 'retired', 'activate' | 'retire'> = {
  noun: 'signing key',
  code: 'ERR_CREDENTIAL_STATE',
  states: ['next', 'active', 'retired'],
  actions: ['activate', 'retire'],
  live: ['active'],
  terminal: ['retired'],
  table: {
    next: { activate: 'active' },
    active: { retire: 'retired' },
    retired: {},
  },
};

/** Every lifecycle, by name: what the lifecycle test walks. */
export const LIFECYCLES = {
  api_key: API_KEY_LIFECYCLE,
  client_secret: CLIENT_SECRET_LIFECYCLE,
  client: CLIENT_LIFECYCLE,
  refresh_family: REFRESH_FAMILY_LIFECYCLE,
  refresh_token: REFRESH_TOKEN_LIFECYCLE,
  principal: PRINCIPAL_LIFECYCLE,
  signing_key: SIGNING_KEY_LIFECYCLE,
} as const;
