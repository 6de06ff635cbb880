import type { Migration } from '../store/port.js';

export const oauthMigrations: readonly Migration[] = [
  {
    id: '0006_oauth_clients',
    description: 'OAuth 2.0 clients: secrets as digests (a previous one kept during rotation overlap), or a JWKS for private_key_jwt',
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL REFERENCES principals (id),
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
        auth_method TEXT NOT NULL,
        secret_digest TEXT UNIQUE,
        secret_last4 TEXT,
        previous_secret_digest TEXT,
        previous_secret_expires_at BIGINT,
        jwks TEXT,
        scopes TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        audiences TEXT NOT NULL,
        policy TEXT NOT NULL,
        policy_overrides TEXT NOT NULL DEFAULT '{}',
        access_token_alg TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX oauth_clients_principal ON oauth_clients (principal_id);`,
  },
  {
    id: '0007_oauth_grants',
    description: 'refresh token families (grants) and their rotating tokens, digests only; reuse of an old generation revokes the family',
    sql: `
      CREATE TABLE oauth_grants (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
        principal_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        audience TEXT NOT NULL,
        generation INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked_at BIGINT,
        revoke_reason TEXT
      );
      CREATE INDEX oauth_grants_client ON oauth_grants (client_id);
      CREATE TABLE oauth_refresh_tokens (
        id TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
        parent_id TEXT,
        generation INTEGER NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('active', 'used', 'revoked')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        reuse_count INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id, generation);`,
  },
  {
    id: '0008_oauth_access_tokens',
    description: 'every access token issued (jti, grant, expiry, status; the digest of opaque ones), so revocation reaches JWTs through introspection',
    sql: `
      CREATE TABLE oauth_access_tokens (
        jti TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        principal_id TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('jwt', 'opaque')),
        digest TEXT,
        scopes TEXT NOT NULL,
        audience TEXT NOT NULL,
        grant_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        kid TEXT,
        act TEXT
      );
      -- Partial indexes: a JWT has no digest, an opaque token no kid, most tokens no grant;
      -- every index entry not written is work the token endpoint does not do.
      CREATE UNIQUE INDEX oauth_access_tokens_digest ON oauth_access_tokens (digest) WHERE digest IS NOT NULL;
      CREATE INDEX oauth_access_tokens_expiry ON oauth_access_tokens (expires_at);
      CREATE INDEX oauth_access_tokens_kid ON oauth_access_tokens (kid, expires_at) WHERE kid IS NOT NULL;
      CREATE INDEX oauth_access_tokens_grant ON oauth_access_tokens (grant_id) WHERE grant_id IS NOT NULL;
      CREATE TABLE oauth_assertion_jtis (
        client_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (client_id, jti)
      );`,
  },
  {
    id: '0061_oauth_clients_previous_secret',
    description: 'leaked client secrets are looked up by digest: the previous secret (kept during a rotation grace) is indexed too',
    sql: `CREATE INDEX oauth_clients_previous_secret ON oauth_clients (previous_secret_digest) WHERE previous_secret_digest IS NOT NULL;`,
  },
  {
    id: '0070_oauth_resource_servers',
    description: 'clients registered as resource servers for audiences: only they (and a token\'s own client) may introspect its tokens (RFC 7662 section 4)',
    sql: `ALTER TABLE oauth_clients ADD COLUMN resource_server_for TEXT NOT NULL DEFAULT '[]';`,
  },
  {
    id: '0071_oauth_token_lineage',
    description: 'the parent of every access token obtained by token exchange (an API key or another access token), so a token never outlives its source',
    sql: `
      CREATE TABLE oauth_token_lineage (
        jti TEXT PRIMARY KEY,
        parent_kind TEXT NOT NULL CHECK (parent_kind IN ('api_key', 'access_token')),
        parent_id TEXT NOT NULL,
        depth INTEGER NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX oauth_token_lineage_parent ON oauth_token_lineage (parent_id);
      CREATE INDEX oauth_token_lineage_expiry ON oauth_token_lineage (expires_at);`,
  },
  {
    id: '0113_oauth_clients_policy_version',
    description: "the version of the client's lifetime policy its secret was issued under (NULL: issued before stored policies)",
    sql: 'ALTER TABLE oauth_clients ADD COLUMN policy_version INTEGER;',
  },
  {
    id: '0120_oauth_access_tokens_exchanged',
    description: 'marks the access tokens obtained by token exchange, so introspection walks the lineage for those alone (tokens exchanged before: marked from the lineage)',
    sql: `
      ALTER TABLE oauth_access_tokens ADD COLUMN exchanged INTEGER NOT NULL DEFAULT 0;
      UPDATE oauth_access_tokens SET exchanged = 1 WHERE jti IN (SELECT jti FROM oauth_token_lineage);`,
  },
  {
    id: '0142_oauth_clients_admin_secret_pickup',
    description: 'a client secret rotated because a person who saw it left: the new secret sealed under the master key until an administrator collects it once (never the client: the person who left may know the secret it would collect with)',
    sql: 'ALTER TABLE oauth_clients ADD COLUMN admin_secret_pickup TEXT;',
  },
  {
    id: '0150_oauth_client_secret_schedule',
    description: "scheduled rotation of client secrets: when the current secret was issued, is due and reaches its maximum age, under which deadline; the previous secret's deadline kind; a scheduled successor sealed until the client collects it; soft deadlines reported once",
    // secret_issued_at: the current secret's issue (clients registered earlier: their creation);
    // secret_rotate_at / secret_deadline_at: from the policy version at issue; secret_deadline and
    // previous_secret_deadline: `hard` or `soft`, fixed at issue like the rest of the policy;
    // secret_pickup: the scheduler's new secret sealed under the master key (bound to the client
    // id) until collected, then NULL; *_flagged_at: a passed soft deadline reported.
    sql: `
      ALTER TABLE oauth_clients ADD COLUMN secret_issued_at BIGINT;
      UPDATE oauth_clients SET secret_issued_at = created_at WHERE secret_digest IS NOT NULL;
      ALTER TABLE oauth_clients ADD COLUMN secret_rotate_at BIGINT;
      ALTER TABLE oauth_clients ADD COLUMN secret_deadline_at BIGINT;
      ALTER TABLE oauth_clients ADD COLUMN secret_deadline TEXT NOT NULL DEFAULT 'hard';
      ALTER TABLE oauth_clients ADD COLUMN previous_secret_deadline TEXT NOT NULL DEFAULT 'hard';
      ALTER TABLE oauth_clients ADD COLUMN secret_pickup TEXT;
      ALTER TABLE oauth_clients ADD COLUMN secret_flagged_at BIGINT;
      ALTER TABLE oauth_clients ADD COLUMN previous_secret_flagged_at BIGINT;
      CREATE INDEX oauth_clients_secret_rotate_at ON oauth_clients (secret_rotate_at) WHERE secret_rotate_at IS NOT NULL;
      CREATE INDEX oauth_clients_previous_secret_ends ON oauth_clients (previous_secret_expires_at) WHERE previous_secret_digest IS NOT NULL;
      CREATE INDEX oauth_clients_secret_deadline ON oauth_clients (secret_deadline_at) WHERE secret_deadline_at IS NOT NULL AND secret_flagged_at IS NULL;`,
  },
  {
    id: '0180_oauth_clients_tls_auth',
    description: 'RFC 8705: the certificate a tls_client_auth or self_signed_tls_client_auth client registered, and whether its access tokens are bound to its certificate',
    sql: `
      ALTER TABLE oauth_clients ADD COLUMN tls_client_auth TEXT;
      ALTER TABLE oauth_clients ADD COLUMN certificate_bound_tokens INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    id: '0191_oauth_access_tokens_cnf',
    description: 'the binding (RFC 7800 cnf: DPoP jkt, certificate or TLS-session digest) of each access token, so introspection reports it for opaque tokens too and an exchange of a bound token needs its proof',
    sql: 'ALTER TABLE oauth_access_tokens ADD COLUMN cnf TEXT;',
  },
  {
    id: '0192_oauth_grants_dpop_jkt',
    description: 'the DPoP key (RFC 7638 thumbprint) a refresh token family is bound to (RFC 9449 section 5): a refresh needs a proof signed by it',
    sql: 'ALTER TABLE oauth_grants ADD COLUMN dpop_jkt TEXT;',
  },
  {
    id: '0216_oauth_clients_notices',
    description: "which deadline each client's owner was told about (client.secret_rotation_due, client.secret_expiring webhooks): once per client per deadline, however many nodes run the scheduler",
    // secret_due_noticed_at: the secret_rotate_at told of; secret_expiry_noticed_at: the secret_deadline_at told of.
    // A new secret has new dates, so it is told again; the same dates are never told twice.
    sql: `
      ALTER TABLE oauth_clients ADD COLUMN secret_due_noticed_at BIGINT;
      ALTER TABLE oauth_clients ADD COLUMN secret_expiry_noticed_at BIGINT;`,
  },
];
