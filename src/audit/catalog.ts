import { z } from 'zod';

/** How much an event matters, after OCSF's `severity_id` names (RFC 5424 levels map onto them). */
export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * What kind of activity an event records, after OCSF's classes: signing in and getting tokens
 * (`authentication`), people and workloads changing (`account_change`), credentials and other
 * things keyturn keeps being created, changed or removed (`entity_management`), calls keyturn
 * answered or made (`api_activity`), and findings of suspicious use or leaks (`detection`).
 */
export const CATEGORIES = ['authentication', 'account_change', 'entity_management', 'api_activity', 'detection'] as const;
export type Category = (typeof CATEGORIES)[number];

export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One event type's declaration: what it means, how it is classified, and the schema of its `data`. */
export interface EventSpec {
  /** What happened, in one sentence. */
  readonly description: string;
  readonly category: Category;
  readonly severity: Severity;
  /** The outcomes this type is recorded with. */
  readonly outcomes: readonly Outcome[];
  /** What the event's `target` holds. */
  readonly target: string;
  /** What the event's `reason` holds, when it has one. */
  readonly reason?: string;
  /** The schema of `data`: every field named, typed and described; nothing else is stored. */
  readonly data: z.ZodObject;
}

/** Declares one event type (keeps its literal types for {@link EventData}). */
function event<const S extends EventSpec>(spec: S): S {
  return spec;
}

const id = (what: string) => z.string().describe(what);
const credentialPrint = z.string().regex(/^hmac-sha256:[0-9a-f]{64}$/);
const scopes = z.array(z.string()).describe('scopes granted');
const none = z.strictObject({});
const keyStatus = z.enum(['active', 'rotating', 'suspended', 'retired', 'revoked']);
const principalStatus = z.enum(['active', 'disabled', 'offboarded']);
const verificationFailure = 'why verification failed: `malformed`, `unknown`, `expired`, `revoked`, `suspended` or `principal_inactive`';

/** Where a leaked secret was seen (the first place of a finding). */
const sighting = z
  .strictObject({
    via: z.enum(['scan', 'watch', 'report', 'github']).describe('how it was found'),
    source: z.string().optional().describe('what was scanned: a path, git URL or `s3://` URL'),
    file: z.string().optional().describe('file within the source'),
    line: z.number().optional().describe('line (1-based)'),
    column: z.number().optional().describe('column (1-based)'),
    commit: z.string().optional().describe('git commit'),
    url: z.string().optional().describe('a URL given by the scan or GitHub'),
    untrustedUrl: z.string().optional().describe('where an anonymous reporter says it was: unverified text, defanged (`hxxps://example[.]com`), never a link'),
    watchId: z.string().optional().describe('the watch that found it'),
  })
  .describe('where it was seen first');

/**
 * Every event type keyturn records, declared once: its meaning, OCSF-like category and severity,
 * the outcomes it is recorded with, and the schema of its `data`. `appendEvent` is type-checked
 * against these declarations (a wrong or missing field does not compile), and `docs/events.md`
 * is generated from them (`npm run docs:events`; a test keeps it current). Later capabilities add
 * their types here.
 */
export const EVENT_CATALOG = {
  'server.bootstrapped': event({
    description: 'Declared for the first start of a server (the admin principal and key); not recorded yet: bootstrap records `principal.created` and `key.created`.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'the bootstrap admin principal',
    data: none,
  }),
  'principal.created': event({
    description: 'A principal (person or workload) was created.',
    category: 'account_change',
    severity: 'informational',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({ kind: z.enum(['user', 'service']).describe('person or workload'), name: id('principal name') }),
  }),
  'principal.disabled': event({
    description: "A principal was disabled: its keys stop verifying at once, its clients' tokens at the next request.",
    category: 'account_change',
    severity: 'low',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({ previous: principalStatus.describe('status before') }),
  }),
  'principal.enabled': event({
    description: 'A disabled principal was enabled again.',
    category: 'account_change',
    severity: 'low',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({ previous: principalStatus.describe('status before') }),
  }),
  'key.created': event({
    description: 'An API key was created (its secret was shown once, to the caller).',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'key id',
    data: z.strictObject({
      principal: id('owner principal id'),
      name: id('key name'),
      scopes,
      expiresAt: z.string().nullable().describe('expiry (ISO 8601), or `null`'),
      fingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the new secret under the deployment salt (match a leaked key to its events; never the secret)'),
    }),
  }),
  'key.revoked': event({
    description: 'An API key was revoked for good (by an admin or a leak response).',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'key id',
    reason: 'why, as given by the caller (`leak detected` for a leak response, `offboarding` when its holder was offboarded)',
    data: z.strictObject({ previous: keyStatus.describe('status before') }),
  }),
  'key.verify_failed': event({
    description: 'A presented API key did not verify.',
    category: 'authentication',
    severity: 'low',
    outcomes: ['failure'],
    target: 'key id when the digest is a known key, else `null`',
    reason: verificationFailure,
    data: z.strictObject({ prefix: z.string().optional().describe('prefix of a well-formed keyturn secret') }),
  }),
  'admin.auth_failed': event({
    description: 'A call to the admin API carried an API key that did not verify.',
    category: 'authentication',
    severity: 'medium',
    outcomes: ['failure'],
    target: 'key id when the digest is a known key, else `null`',
    reason: verificationFailure,
    data: z.strictObject({ prefix: z.string().optional().describe('prefix of a well-formed keyturn secret') }),
  }),
  'audit.failures_summarized': event({
    description:
      'Summary of like failures (same type, target or claimed id, reason and source network) after the first, which was recorded in full: written when the aggregation window closes, and at shutdown.',
    category: 'authentication',
    severity: 'low',
    outcomes: ['failure'],
    target: 'the target of the summarised failures (a key or client id), or `null`',
    reason: 'the reason of the summarised failures',
    data: z.strictObject({
      of: z.string().describe('type of the summarised failure events, e.g. `key.verify_failed`'),
      count: z.number().describe('failures after the first in the window'),
      network: z.string().describe('source network: an IPv4 address, an IPv6 /64, `unknown`, or `many` for the overflow group'),
      firstAt: z.string().describe('time of the first failure of the window (ISO 8601)'),
      lastAt: z.string().describe('time of the last failure counted (ISO 8601)'),
      overflow: z.boolean().describe('the group stood for many targets and networks: too many distinct groups were open'),
      claimed: z.string().optional().describe('the claimed identifier (sanitised), when it named nothing known'),
      }),
    }),
  'audit.checkpoint': event({
    description:
      'A signed checkpoint of the audit log: the Merkle tree head (RFC 9162) of every record up to `lastSeq`, signed with the deployment\'s Ed25519 log key as a C2SP tlog-checkpoint. Keep these outside keyturn (a sink, a file, a witness) to catch a rewritten history; `keyturn audit verify --checkpoint` checks the log against them.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'the log origin (also the checkpoint key name)',
    data: z.strictObject({
      size: z.number().describe('tree size: records sealed since the tree began'),
      lastSeq: z.number().describe('sequence number of the last record sealed'),
      root: z.string().describe('root hash (base64), as in the note'),
      note: z.string().describe('the signed checkpoint (c2sp.org/tlog-checkpoint in a c2sp.org/signed-note)'),
    }),
  }),
  'admin.recovered': event({
    description: 'A new admin key was minted by `keyturn admin recover`, run with direct access to the data directory or database (the way back in when every admin key is suspended, revoked or lost).',
    category: 'account_change',
    severity: 'high',
    outcomes: ['success'],
    target: 'the new key id',
    data: z.strictObject({
      principal: id('owner principal id (the bootstrap admin)'),
      host: z.string().describe('host name of the machine the command ran on'),
    }),
  }),
  'signing_key.rotated': event({
    description: 'The signing key ring rotated: next became active, active retired, a new next was created.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'kid of the key that now signs',
    data: z.strictObject({
      alg: z.enum(['ES256', 'EdDSA']).describe('algorithm of the ring'),
      retired: id('kid of the key retired (published until its last token expires)'),
      next: id('kid of the new next key'),
    }),
  }),
  'client.created': event({
    description: 'An OAuth client was registered.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({
      principal: id('principal the client acts for'),
      name: id('client name'),
      authMethod: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']).describe('token endpoint authentication method'),
      policy: id('policy name'),
      secretFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of its secret (secret-authenticated clients) under the deployment salt (match a leaked secret to its events)'),
    }),
  }),
  'client.updated': event({
    description: 'What an OAuth client may do changed; it takes effect at its next token request or refresh.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ fields: z.array(z.string()).describe('the settings given') }),
  }),
  'client.disabled': event({
    description: 'An OAuth client was disabled: its authentication fails until enabled.',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    reason: '`leak detected` when the leak response disabled it; none when an administrator did',
    data: none,
  }),
  'client.enabled': event({
    description: 'An OAuth client was enabled.',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    data: none,
  }),
  'client.deleted': event({
    description: 'An OAuth client was deleted with its grants and refresh tokens; its access tokens introspect inactive.',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ name: id('client name') }),
  }),
  'client.secret_rotated': event({
    description: "An OAuth client's secret was rotated: the new one was shown once, to the caller, or sealed — until the client collects it (scheduled), or until an administrator does (`client.secret_revealed`, when an offboarding rotated it).",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    reason: 'who rotated it: `admin`, `self` (the client, with its secret), `schedule`, or `offboarding` (the offboarding of a person who saw it); none on events recorded before scheduled rotation',
    data: z.strictObject({
      previousValidUntil: z.string().nullable().describe('end of the previous secret\'s grace (ISO 8601), or `null`: no overlap'),
      secretFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the new secret under the deployment salt (match a leaked secret to its events)'),
    }),
  }),
  'client.secret_picked_up': event({
    description: "A client whose secret was rotated on schedule collected the new secret (`POST /v1/clients/self/rotate-secret`); it is shown once.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ secretFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the secret collected under the deployment salt (match a leaked secret to its events)'), }),
  }),
  'client.secret_retired': event({
    description: "A client's previous secret reached the end of its grace under a hard deadline and stopped working.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ uncollected: z.boolean().describe('the scheduled successor was never collected (its sealed copy is dropped: an administrator must rotate the secret)') }),
  }),
  'client.secret_deadline_missed': event({
    description: "A client secret passed its deadline without having been replaced: its maximum age (either kind), or the end of a previous secret's grace (soft deadlines; under a hard one `client.secret_retired` is recorded). Under `hard` it stopped working then; under `soft` it keeps working, flagged. Recorded once per secret.",
    category: 'detection',
    severity: 'medium',
    outcomes: ['success'],
    target: 'client id',
    reason: '`max_age` or `grace`',
    data: z.strictObject({
      deadline: z.string().describe('the deadline passed (ISO 8601)'),
      enforced: z.enum(['hard', 'soft']).describe('`hard`: the secret stopped; `soft`: it keeps working'),
      policy: id('policy name'),
      policyVersion: z.number().describe('its version'),
    }),
  }),
  'client.secret_revoked': event({
    description: "One of an OAuth client's secrets was revoked by the leak response: the current one (the client has no working secret until rotated) or the previous one (its rotation grace ended early).",
    category: 'entity_management',
    severity: 'medium',
    outcomes: ['success'],
    target: 'client id',
    reason: '`leak detected`',
    data: z.strictObject({ which: z.enum(['current', 'previous']).describe('which secret was revoked') }),
  }),
  'client.auth_failed': event({
    description: 'OAuth client authentication failed at the token, introspection or revocation endpoint.',
    category: 'authentication',
    severity: 'low',
    outcomes: ['failure'],
    target: 'the client id, when it names a registered client; else `null`',
    reason: 'why (never the secret or assertion)',
    data: z.strictObject({
      claimed: z.string().optional().describe('the client id claimed when it names no registered client: printable ASCII, at most 64 characters (`…` marks a cut)'),
    }),
  }),
  'binding.tls_failed': event({
    description:
      'A TLS binding was refused: a certificate-bound (RFC 8705) or TLS-session-bound (RFC 9266 tls-exporter) token asked for or presented without the connection it is bound to, or an API key used from outside its networks or without its certificate.',
    category: 'authentication',
    severity: 'medium',
    outcomes: ['failure'],
    target: 'the key id (an API key at `POST /v1/keys/verify`, or given as the subject of a token exchange), else the client id (token endpoint), when known; else `null`',
    reason:
      '`missing_certificate`, `wrong_certificate`, `unverified_certificate`, `not_tls`, `tls_version` (not TLS 1.3), `middlebox` (the client saw another exporter value), `other_tls_session`, `missing_binding`, `network` (source address outside the key\'s networks; also for a bound API key given to a token exchange), and for a connection digest relayed by an API server\'s session endpoint (`holder_tls_exporter`): `not_exchange` (not a token exchange), `malformed_exporter`, `not_resource_server` (the caller is not the resource server of the token\'s audience), `bound_subject` (the subject is sender-constrained already), `relayed_dpop` (a DPoP proof with it)',
    data: z.strictObject({
      binding: z.enum(['mtls', 'tls-session', 'api-key']).describe('which binding'),
      at: z.enum(['token', 'keys.verify']).describe('where: the token endpoint or `POST /v1/keys/verify`'),
      client: z.string().optional().describe('the client that gave the API key as a token-exchange subject'),
    }),
  }),
  'binding.client_cert_header_ignored': event({
    description: 'A request carried a client certificate header (RFC 9440 `Client-Cert` or `x-forwarded-client-cert`) from an address that is not a configured certificate-forwarding proxy: the header was ignored.',
    category: 'detection',
    severity: 'medium',
    outcomes: ['failure'],
    target: '`null`',
    reason: 'the header name',
    data: none,
  }),
  'token.issued': event({
    description: 'Access token (and, by policy, refresh token) issued for the client credentials grant.',
    category: 'authentication',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({
      grantType: z.literal('client_credentials').describe('the grant'),
      jti: id('access token id'),
      grant: z.string().nullable().describe('refresh family started, or `null`'),
      scopes,
      audience: id('audience of the access token'),
      refreshTokenFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the refresh token issued, under the deployment salt'),
    }),
  }),
  'token.refreshed': event({
    description: 'A refresh token was used: a new access token and the next refresh token of its family were issued.',
    category: 'authentication',
    severity: 'informational',
    outcomes: ['success'],
    target: 'grant (refresh family) id',
    data: z.strictObject({
      client: id('client id'),
      jti: id('access token id'),
      generation: z.number().describe('generation of the family after the refresh'),
      graceReuse: z.boolean().describe('the previous generation presented again within the grace'),
      scopes,
      narrowed: z.boolean().describe('fewer scopes than the original grant'),
      presentedFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the refresh token presented'),
      refreshTokenFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the refresh token issued'),
    }),
  }),
  'token.exchanged': event({
    description: 'Token exchange (RFC 8693): an API key or access token was exchanged for a short-lived access token.',
    category: 'authentication',
    severity: 'informational',
    outcomes: ['success'],
    target: 'id of the subject token (key id or jti)',
    data: z.strictObject({
      client: id('the exchanging client (the actor)'),
      subjectType: z.enum(['api_key', 'access_token']).describe('what was exchanged'),
      jti: id('new access token id'),
      scopes,
      audience: id('audience of the new token'),
    }),
  }),
  'token.request_failed': event({
    description: 'A token request by an authenticated client was refused.',
    category: 'authentication',
    severity: 'low',
    outcomes: ['failure'],
    target: 'client id',
    reason: 'the error code, e.g. `ERR_INVALID_GRANT`',
    data: z.strictObject({ grantType: z.string().describe('grant type asked for (first 80 characters)'), message: z.string().describe('the error description') }),
  }),
  'binding.dpop_failed': event({
    description:
      'A DPoP proof (RFC 9449) was refused at the token endpoint, or a proof was missing where the client policy or a DPoP-bound refresh token requires one; aggregated like other failures (first in full, the rest summarised). A first request without the server nonce is the normal handshake and is not recorded; a stale nonce is. Resource servers get the same reasons from the verifier library.',
    category: 'authentication',
    severity: 'medium',
    outcomes: ['failure'],
    target: 'the refresh family (grant) id when the refresh token presented is DPoP-bound; else the client id, when the request named a registered client; else `null`',
    reason:
      'why: `missing` (no proof), `multiple`, `malformed`, `type` (not `dpop+jwt`), `algorithm` (not allow-listed: `none`, HS*), `jwk` (absent, private or symmetric key), `signature` (foreign signer), `claims`, `htm`, `htu`, `iat` (stale or future), `ath` (another token), `nonce` (stale or absent server nonce), `key_mismatch` (a stolen token with another key), `replay` (`jti` seen before, on any node), `channel` (the proof names another TLS connection)',
    data: z.strictObject({
      jkt: z.string().optional().describe('RFC 7638 thumbprint of the proof key, when the proof carried a readable public key'),
      grantType: z.string().optional().describe('grant type asked for at the token endpoint (first 80 characters)'),
      client: z.string().optional().describe('the client id, when the target is its DPoP-bound refresh family'),
    }),
  }),
  'token.revoked': event({
    description: 'An access token was revoked: by its client (RFC 7009), or by the leak response (reason `leak detected`).',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'jti',
    reason: '`leak detected` when the leak response revoked it',
    data: z.strictObject({ client: id('client id'), format: z.enum(['jwt', 'opaque']).describe('token format') }),
  }),
  'token.introspection_failed': event({
    description: 'An introspection (RFC 7662) answered `active: false`.',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['failure'],
    target: 'id of the introspecting client',
    reason: '`inactive` (no such live token), or `not_permitted`: a live token the caller is neither the client of nor a registered resource server for (RFC 7662 §4)',
    data: z.strictObject({
      hint: z.string().nullable().describe('`token_type_hint` given, or `null`'),
      tokenClient: z.string().optional().describe('with `not_permitted`: the client the token was issued to'),
    }),
  }),
  'grant.revoked': event({
    description: 'A refresh family was revoked with its refresh and access tokens (by its client or an admin).',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'grant id',
    reason: 'why (`client revocation`, or as given by the admin)',
    data: z.strictObject({ client: id('client id') }),
  }),
  'detection.refresh_reuse': event({
    description: 'A refresh token of an older generation was presented: the family is revoked (likely theft).',
    category: 'detection',
    severity: 'high',
    outcomes: ['failure'],
    target: 'grant id',
    reason: 'a fixed explanation',
    data: z.strictObject({
      client: id('client id'),
      principal: id('principal of the grant'),
      presentedGeneration: z.number().describe('generation of the token presented'),
      currentGeneration: z.number().describe('newest generation of the family'),
      presentedFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the token presented, under the deployment salt'),
    }),
  }),
  'key.suspended': event({
    description: 'An API key was quarantined: it fails verification (`suspended`) until unsuspended.',
    category: 'entity_management',
    severity: 'medium',
    outcomes: ['success'],
    target: 'key id',
    reason: 'why, as given (`leak detected` for a leak response)',
    data: z.strictObject({ previous: keyStatus.describe('status before') }),
  }),
  'key.unsuspended': event({
    description: 'A suspension was lifted: the key is active again.',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'key id',
    data: z.strictObject({ previous: keyStatus.describe('status before') }),
  }),
  'leak.detected': event({
    description:
      'A secret was found leaked for the first time, or seen again while its credential worked, and the response taken (a live API key is suspended or revoked, a client disabled or its secret revoked, a refresh family or access token revoked).',
    category: 'detection',
    severity: 'high',
    outcomes: ['success'],
    target: 'the credential id (key, client, grant or jti) for a keyturn credential, else the finding id',
    reason: 'the finding status',
    data: z.strictObject({
      finding: id('finding id'),
      fingerprint: id('SHA-256 (hex) of a keyturn secret (its stored digest); for any other secret an HMAC-SHA256 under the deployment\'s key, never a plain hash'),
      kind: id('`keyturn`, or the kind of third-party secret'),
      rule: id('the rule that matched'),
      status: z.enum(['suspended', 'revoked', 'held', 'inactive', 'unknown', 'third_party']).describe('what the finding is and what was done'),
      principal: z.string().nullable().describe("the credential's owner, or `null`"),
      where: sighting,
      credential: z
        .strictObject({
          type: z.enum(['api_key', 'client_secret', 'refresh_token', 'access_token']).describe('what kind of keyturn credential'),
          id: id('key id, client id, grant id or jti'),
          response: z.string().nullable().describe('what was done: `key_suspended`, `key_revoked`, `client_disabled`, `secret_revoked`, `grant_revoked`, `token_revoked`, or `null`'),
        })
        .nullable()
        .optional()
        .describe('the keyturn credential the secret is, or `null`'),
      held: z
        .enum(['last_admin', 'own_credential'])
        .optional()
        .describe('a live admin key left working: the last working admin credential (policy `leakSuspendLastAdmin` off), or the key the reporting scan authenticated with'),
      repeat: z.boolean().optional().describe('`true`: seen again after the first report, and acted on again'),
    }),
  }),
  'leak.acknowledged': event({
    description: 'An administrator acknowledged the open leak findings of an API key to unsuspend it, or of a client\'s secret to enable the client (`ackLeak`).',
    category: 'detection',
    severity: 'medium',
    outcomes: ['success'],
    target: 'key id, or client id',
    data: z.strictObject({
      findings: z.array(z.string()).describe('the finding ids acknowledged'),
      credential: z.enum(['client_secret']).optional().describe('`client_secret` when the target is a client (absent: an API key)'),
    }),
  }),
  'leak.notified': event({
    description: 'A leak notification webhook was delivered, or failed.',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['success', 'failure'],
    target: 'key id for a keyturn key, else the finding id',
    reason: 'on failure: `HTTP <status>`, `timeout` or `unreachable`',
    data: z.strictObject({
      finding: id('finding id'),
      to: z.enum(['owner', 'global']).describe("the owner's webhook or the deployment's"),
      origin: id('origin of the webhook URL (never its path or query)'),
      status: z.number().nullable().describe('HTTP status answered, or `null`'),
    }),
  }),
  'leak.report_rejected': event({
    description: 'A leak report was refused (bad signature or body); nothing was changed.',
    category: 'api_activity',
    severity: 'low',
    outcomes: ['failure'],
    target: '`null`',
    reason: 'why',
    data: z.strictObject({ via: z.enum(['github']).describe('the reporting endpoint') }),
  }),
  'leak_watch.created': event({
    description: 'A scheduled leak scan (watch) was added.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'watch id',
    data: z.strictObject({
      source: id('what is scanned'),
      history: z.boolean().describe('whole git history'),
      everyMs: z.number().describe('interval in milliseconds'),
    }),
  }),
  'leak_watch.removed': event({
    description: 'A watch was removed.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'watch id',
    data: z.strictObject({ source: id('what was scanned') }),
  }),
  'leak_watch.ran': event({
    description: 'A watch ran (claimed by one node of the cluster).',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['success', 'failure'],
    target: 'watch id',
    reason: 'on failure, the error code',
    data: z.strictObject({
      ok: z.boolean().describe('the scan completed'),
      findings: z.number().describe('secrets found'),
      new: z.number().describe('secrets not reported before'),
      suspended: z.number().describe('keys suspended'),
      revoked: z.number().describe('keys revoked'),
      thirdParty: z.number().describe('third-party secrets'),
      bytes: z.number().describe('bytes scanned'),
      items: z.number().describe('files or objects scanned'),
      error: z.strictObject({ code: z.string(), message: z.string() }).optional().describe('why the run failed'),
      node: id('node that ran it'),
    }),
  }),
  'principal.policy_set': event({
    description: "A principal's lifetime policy was named (its keys that name none follow it from their next rotation).",
    category: 'account_change',
    severity: 'informational',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({ policy: z.string().nullable().describe('the policy, or `null`: the deployment default'), previous: z.string().nullable().describe('the policy before') }),
  }),
  'policy.created': event({
    description: 'A lifetime policy was created (version 1).',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'policy name',
    data: z.strictObject({ version: z.number().describe('version recorded (1)'), from: id('the policy it started from') }),
  }),
  'policy.updated': event({
    description: 'A lifetime policy got a new version that weakens nothing (shorter or equal lifetimes, intervals and grace).',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'policy name',
    data: z.strictObject({ version: z.number().describe('version recorded'), changed: z.array(z.string()).describe('fields that changed') }),
  }),
  'policy.weakened': event({
    description: 'A lifetime policy got a new version that weakens it: a longer lifetime, interval or grace, more refresh reuse, refresh tokens turned on, JWT instead of opaque access tokens, or a soft deadline.',
    category: 'entity_management',
    severity: 'medium',
    outcomes: ['success'],
    target: 'policy name',
    data: z.strictObject({
      version: z.number().describe('version recorded'),
      changed: z.array(z.string()).describe('fields that changed'),
      weakened: z.array(z.string()).describe('fields whose change weakens the policy'),
    }),
  }),
  'key.rotated': event({
    description: 'An API key was rotated: its successor was issued and the key verifies until the end of its grace.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'the rotated (predecessor) key id',
    reason: 'who rotated it: `admin`, `self` (the holder, with the key), `schedule` or `offboarding` (a person who saw it left; the successor is sealed for an administrator)',
    data: z.strictObject({
      successor: id('the successor key id'),
      graceEndsAt: z.string().describe('end of the grace (ISO 8601)'),
      policy: id('the policy the successor is issued under'),
      policyVersion: z.number().describe('its version'),
      successorFingerprint: credentialPrint.optional().describe("`hmac-sha256:` fingerprint of the successor's secret under the deployment salt"),
    }),
  }),
  'key.retired': event({
    description: 'A rotated API key reached the end of its grace and stopped verifying.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'key id',
    data: z.strictObject({ successor: z.string().nullable().describe('the successor key id') }),
  }),
  'key.successor_picked_up': event({
    description: "The holder of a key rotated on schedule collected the successor's secret (`POST /v1/keys/self/rotate`); it is shown once.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'the successor key id',
    data: z.strictObject({ predecessor: id('the key that presented itself') }),
  }),
  'key.deadline_missed': event({
    description: 'An API key passed its deadline without having been rotated: its maximum age (either kind), or the end of its grace (soft deadlines; under a hard one `key.retired` is recorded). Under `hard` it stopped verifying then; under `soft` it keeps verifying, flagged. Recorded once per key.',
    category: 'detection',
    severity: 'medium',
    outcomes: ['success'],
    target: 'key id',
    reason: '`max_age` or `grace`',
    data: z.strictObject({
      deadline: z.string().describe('the deadline passed (ISO 8601)'),
      enforced: z.enum(['hard', 'soft']).describe('`hard`: the key stopped; `soft`: it keeps working'),
      policy: id('policy name'),
      policyVersion: z.number().describe('its version'),
    }),
  }),
  'key.rotation_due': event({
    description: "An API key's scheduled rotation comes within the notice window (`rotationNotice`): its owner's webhooks are told (`key.rotation_due`). Recorded once per key per due date.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'key id',
    data: z.strictObject({ dueAt: z.string().describe('when the scheduler rotates it (ISO 8601)'), endpoints: z.number().describe('webhook deliveries written') }),
  }),
  'key.expiring': event({
    description: "An API key's expiry or maximum age comes within the notice window (`rotationNotice`), or has come: its owner's webhooks are told (`key.expiring`). Recorded once per key.",
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'key id',
    reason: '`expiry` or `max_age`',
    data: z.strictObject({ at: z.string().describe('when it ends (ISO 8601)'), endpoints: z.number().describe('webhook deliveries written') }),
  }),
  'client.secret_rotation_due': event({
    description:
      "An OAuth client secret's scheduled rotation comes within the notice window (`rotationNotice`): its owner's webhooks are told (`client.secret_rotation_due`). Recorded once per client per due date; not for a secret the scheduler rotates in the same run.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ dueAt: z.string().describe('when the scheduler rotates it (ISO 8601)'), endpoints: z.number().describe('webhook deliveries written') }),
  }),
  'client.secret_expiring': event({
    description:
      "An OAuth client secret's maximum age (its policy's deadline, hard or soft) comes within the notice window (`rotationNotice`), or has come: its owner's webhooks are told (`client.secret_expiring`). Recorded once per client per deadline; not for a secret the scheduler rotates in the same run.",
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    reason: '`max_age`',
    data: z.strictObject({
      at: z.string().describe('when the deadline comes (ISO 8601)'),
      enforced: z.enum(['hard', 'soft']).describe('`hard`: the secret stops then; `soft`: it keeps working, flagged'),
      endpoints: z.number().describe('webhook deliveries written'),
    }),
  }),
  'webhook.endpoint_created': event({
    description: "A webhook endpoint was added (its secret shown once), or a principal's `webhookUrl` was taken over as one for its leak notifications (`adopted`).",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'endpoint id',
    data: z.strictObject({
      owner: z.string().nullable().describe("the principal whose credentials' events it receives; `null`: every principal's"),
      origin: id('origin of the URL (never its path or query)'),
      events: z.array(z.string()).describe('the events it receives'),
      adopted: z.boolean().describe("`true`: taken over from a principal's `webhookUrl`"),
    }),
  }),
  'webhook.endpoint_removed': event({
    description: 'A webhook endpoint was removed: nothing more is sent to it.',
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'endpoint id',
    data: z.strictObject({ owner: z.string().nullable().describe('its principal, or `null`'), cancelled: z.number().describe('pending deliveries cancelled') }),
  }),
  'webhook.secret_rotated': event({
    description: "A webhook endpoint's signing secret was replaced (the new one shown once); the previous one signs beside it until the overlap ends.",
    category: 'entity_management',
    severity: 'informational',
    outcomes: ['success'],
    target: 'endpoint id',
    data: z.strictObject({ previousSignsUntil: z.string().describe('end of the overlap (ISO 8601)') }),
  }),
  'webhook.delivery_failed': event({
    description: 'A webhook delivery was given up: every attempt failed (the endpoint down or refusing), or the failure was permanent. `keyturn webhooks replay` sends it again.',
    category: 'api_activity',
    severity: 'medium',
    outcomes: ['failure'],
    target: 'endpoint id',
    reason: 'the last failure: `HTTP <status>`, `timeout`, `unreachable`, `forbidden-address`, …',
    data: z.strictObject({
      delivery: id('the delivery (outbox message) id'),
      event: id('the webhook event type'),
      attempts: z.number().describe('attempts made'),
      origin: id('origin of the URL (never its path or query)'),
      status: z.number().nullable().describe('HTTP status of the last answer, or `null`'),
    }),
  }),
  'webhook.endpoint_down': event({
    description:
      "A webhook endpoint's delivery failed while it was not already down: the endpoint is `down` (shown by `keyturn webhooks list` and `GET /v1/webhooks`) and the outbox keeps retrying. Recorded once per outage, in the transaction that records the failed attempt; `webhook.endpoint_recovered` ends it.",
    category: 'api_activity',
    severity: 'medium',
    outcomes: ['failure'],
    target: 'endpoint id',
    reason: 'the failure: `HTTP <status>`, `timeout`, `unreachable`, `forbidden-address`, …',
    data: z.strictObject({
      delivery: id('the delivery (outbox message) whose attempt failed'),
      event: id('its webhook event type'),
      origin: id('origin of the URL (never its path or query)'),
      status: z.number().nullable().describe('HTTP status of the answer, or `null` (no answer)'),
    }),
  }),
  'webhook.endpoint_recovered': event({
    description: 'A webhook endpoint that was down accepted a delivery again. Recorded once per outage, in the transaction that records the successful attempt.',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['success'],
    target: 'endpoint id',
    data: z.strictObject({
      delivery: id('the delivery that got through'),
      origin: id('origin of the URL (never its path or query)'),
      downForMs: z.number().describe('how long it was down (ms)'),
      failures: z.number().describe('failed attempts while it was down'),
    }),
  }),
  'webhook.delivery_replayed': event({
    description: 'A settled webhook delivery was sent again on request (same `webhook-id`).',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['success'],
    target: 'endpoint id',
    data: z.strictObject({ delivery: id('the delivery id'), previous: z.enum(['pending', 'delivered', 'dead']).describe('its status before') }),
  }),
  'key.used': event({
    description:
      'Successful uses of an API key from one source network within one usage interval, aggregated: one event per key, network and interval (written when the interval closes, and at shutdown), never one per request. Gives every key its "last used" and "used from".',
    category: 'authentication',
    severity: 'informational',
    outcomes: ['success'],
    target: 'key id',
    data: z.strictObject({
      network: z.string().describe('source network: an IPv4 address, an IPv6 /64, or `unknown`'),
      count: z.number().describe('successful uses in the interval'),
      firstAt: z.string().describe('first use in the interval (ISO 8601)'),
      lastAt: z.string().describe('last use in the interval (ISO 8601)'),
      newNetwork: z.boolean().describe('no earlier usage record of this key names this network, while earlier records name others'),
      firstUse: z.boolean().describe('no earlier usage record of this key at all'),
    }),
  }),
  'credential.used': event({
    description:
      'Successful uses of a client secret (counted per client, at client authentication) or of a refresh-token family (per grant, at each refresh) from one source network within one usage interval, aggregated as for API keys (`key.used`): one event per credential, network and interval, never one per request.',
    category: 'authentication',
    severity: 'informational',
    outcomes: ['success'],
    target: 'client id (client secret) or grant id (refresh tokens)',
    data: z.strictObject({
      credential: z.enum(['client_secret', 'refresh_token']).describe('what was used'),
      network: z.string().describe('source network: an IPv4 address, an IPv6 /64, or `unknown`'),
      count: z.number().describe('successful uses in the interval'),
      firstAt: z.string().describe('first use in the interval (ISO 8601)'),
      lastAt: z.string().describe('last use in the interval (ISO 8601)'),
      newNetwork: z.boolean().describe('no earlier usage record of this credential names this network, while earlier records name others'),
      firstUse: z.boolean().describe('no earlier usage record of this credential at all'),
    }),
  }),
  'audit.sink_down': event({
    description: 'An audit sink stopped accepting events (its delivery failed); nothing is lost: its cursor stays where it was and delivery is retried with backoff.',
    category: 'api_activity',
    severity: 'high',
    outcomes: ['failure'],
    target: 'sink name',
    reason: 'the first line of the delivery error',
    data: z.strictObject({
      kind: z.string().describe('sink kind (`syslog`, `cef`, `ocsf`, `jsonl`, `splunk_hec`)'),
      position: z.number().describe('sequence number the sink has received up to'),
    }),
  }),
  'audit.sink_recovered': event({
    description: 'An audit sink that was down accepted events again; it resumes from its cursor.',
    category: 'api_activity',
    severity: 'informational',
    outcomes: ['success'],
    target: 'sink name',
    data: z.strictObject({
      kind: z.string().describe('sink kind'),
      downForMs: z.number().describe('how long it was down (ms)'),
      failures: z.number().describe('failed deliveries while it was down'),
    }),
  }),
  'audit.sink_created': event({
    description: 'An audit sink was added through the admin API; its cursor starts at `position` (it receives the events after it, this one included when it started before it).',
    category: 'entity_management',
    severity: 'medium',
    outcomes: ['success'],
    target: 'sink name',
    data: z.strictObject({
      kind: z.enum(['syslog', 'file', 'splunk_hec', 'webhook']).describe('sink kind'),
      destination: z.string().describe('where it sends: `host:port`, a URL\'s origin (never its path or query), or a file name'),
      position: z.number().describe('sequence number its cursor starts after'),
      secret: z.boolean().describe('whether a secret (Splunk token, webhook secret) is kept, sealed'),
    }),
  }),
  'audit.sink_updated': event({
    description: 'The settings of an audit sink added through the admin API changed, or its cursor was moved to a new start (`from`: start, now or a sequence number); otherwise its cursor stays where it was.',
    category: 'entity_management',
    severity: 'medium',
    outcomes: ['success'],
    target: 'sink name',
    data: z.strictObject({
      kind: z.enum(['syslog', 'file', 'splunk_hec', 'webhook']).describe('sink kind'),
      version: z.number().describe('the sink\'s version after the change'),
      fields: z.array(z.string()).describe('settings changed (names only)'),
      secretReplaced: z.boolean().describe('whether its secret was replaced'),
      destination: z.string().describe('where it sends now (as in `audit.sink_created`)'),
      position: z
        .strictObject({ from: z.number().describe('sequence number it had been given up to'), to: z.number().describe('sequence number it now continues after') })
        .optional()
        .describe('the cursor moved (only when `from` was given)'),
    }),
  }),
  'audit.sink_removed': event({
    description: 'An audit sink added through the admin API was removed, with its cursor: nothing more is sent to it.',
    category: 'entity_management',
    severity: 'high',
    outcomes: ['success'],
    target: 'sink name',
    data: z.strictObject({
      kind: z.enum(['syslog', 'file', 'splunk_hec', 'webhook']).describe('sink kind'),
      position: z.number().describe('sequence number it had received up to'),
      delivered: z.number().describe('events delivered to it'),
    }),
  }),
  'detection.finding': event({
    description:
      'A detection rule fired on the event stream: suspicious use of a credential, a burst of failures, a credential used from a new network or from several at once, excessive issuance, an admin key created, a policy weakened, an audit sink down or a gap in the sequence. Its `data.severity` is the severity of this finding.',
    category: 'detection',
    severity: 'medium',
    outcomes: ['success'],
    target: 'what the finding is about: a key, client, principal, policy or sink id, or a source network',
    reason: 'the rule title',
    data: z.strictObject({
      rule: z.string().describe('rule id, e.g. `failure_burst`'),
      severity: z.enum(['informational', 'low', 'medium', 'high', 'critical']).describe('severity of this finding'),
      evidence: z.array(z.string()).describe('ids of the events that made the rule fire (at most 20)'),
      count: z.number().optional().describe('how many events counted towards the threshold'),
      networks: z.array(z.string()).optional().describe('source networks involved'),
      response: z
        .enum(['none', 'suspended', 'revoked', 'disabled', 'failed'])
        .describe('automatic response (rules in `audit.detections.suspendOn`): `suspended` the API key, `revoked` the refresh family (grant) with its access tokens, `disabled` the OAuth client, or `failed` to'),
    }),
  }),
  'key.successor_issued': event({
    description: "A leaked API key that the leak response suspended or revoked got a successor (same owner, scopes and policy); its secret is sealed until an administrator collects it (`keyturn keys reveal-successor`), never by presenting the leaked key. Its owner's leak notification names the successor's id.",
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'the leaked (predecessor) key id',
    reason: '`leak`',
    data: z.strictObject({
      successor: id('the successor key id'),
      pickup: z.enum(['admin']).describe('who may collect its secret'),
      policy: id('the policy the successor is issued under'),
      policyVersion: z.number().describe('its version'),
    }),
  }),
  'key.successor_revealed': event({
    description: "An administrator collected a sealed successor's secret (`POST /v1/keys/:id/reveal-successor`); it is shown once and the administrator is recorded as exposed to it.",
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'the successor key id',
    data: z.strictObject({
      predecessor: z.string().nullable().describe('the key it succeeds'),
      pickup: z.enum(['holder', 'admin']).describe('who the successor was sealed for'),
    }),
  }),
  'principal.offboarding_started': event({
    description: 'A principal was marked offboarded (from this commit on nothing it holds works) and the plan of its offboarding was recorded: what it holds is revoked, its clients disabled or handed over, what it saw rotated. Each step records its own event (`key.revoked`, `grant.revoked`, `token.revoked`, `client.disabled`, `client.transferred`, `key.rotated`, `client.secret_rotated`, reason `offboarding`).',
    category: 'account_change',
    severity: 'medium',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({
      offboarding: id('the offboarding id'),
      previous: principalStatus.describe('status before'),
      transferTo: z.string().nullable().describe('the principal that receives its OAuth clients, or `null`: they are disabled'),
      steps: z.number().describe('how many steps the plan has'),
      counts: z.record(z.string(), z.number()).describe('steps per action (`revoke_key`, `revoke_grant`, `revoke_access_token`, `disable_client`, `transfer_client`, `rotate_key`, `rotate_client_secret`)'),
    }),
  }),
  'principal.offboarded': event({
    description: "Every step of a principal's offboarding was done (recorded once, whichever node finished it, however often it was resumed).",
    category: 'account_change',
    severity: 'medium',
    outcomes: ['success'],
    target: 'principal id',
    data: z.strictObject({
      offboarding: id('the offboarding id'),
      steps: z.number().describe('steps in the plan'),
      done: z.number().describe('steps done'),
      skipped: z.number().describe('steps skipped because the credential had changed since the plan (e.g. revoked meanwhile)'),
    }),
  }),
  'client.transferred': event({
    description: 'An OAuth client was handed over to another principal (offboarding with `--transfer-to`).',
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    reason: '`offboarding`',
    data: z.strictObject({ from: id('the previous owner'), to: id('the new owner') }),
  }),
  'client.secret_revealed': event({
    description: "An administrator collected a client secret that an offboarding rotated and sealed (`POST /v1/clients/:id/reveal-secret`); shown once, the administrator recorded as exposed to it.",
    category: 'entity_management',
    severity: 'low',
    outcomes: ['success'],
    target: 'client id',
    data: z.strictObject({ secretFingerprint: credentialPrint.optional().describe('`hmac-sha256:` fingerprint of the secret revealed under the deployment salt (match a leaked secret to its events)'), }),
  }),
} as const satisfies Record<string, EventSpec>;

/** Every event type keyturn records. */
export type EventType = keyof typeof EVENT_CATALOG;

/** `T` with every array and object read-only: callers may pass what they must not change. */
type DeepReadonly<T> = T extends readonly (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The `data` an event of type `T` carries, from its declaration (read-only: arrays a caller holds as such fit). */
export type EventData<T extends EventType> = DeepReadonly<z.input<(typeof EVENT_CATALOG)[T]['data']>>;

/** The outcomes an event of type `T` may be recorded with. */
export type EventOutcome<T extends EventType> = (typeof EVENT_CATALOG)[T]['outcomes'][number];
