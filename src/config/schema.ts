import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { isNetwork } from '../core/network.js';
import { PREFIX_PATTERN } from '../core/secret.js';

/**
 * A duration setting, in milliseconds once parsed: a duration such as `90s`, `5m`, `30d`, `1h30m`,
 * or a whole number of milliseconds (a number, or digits: what the flat settings took before).
 * No use site parses a duration string.
 */
function duration(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    let ms: number | undefined;
    if (typeof value === 'number') ms = value;
    else if (/^\d+$/.test(value.trim())) ms = Number(value.trim());
    else {
      try {
        ms = parseDuration(value);
      } catch {
        ms = undefined;
      }
    }
    if (ms === undefined || !Number.isSafeInteger(ms) || ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `expected a duration from ${formatDuration(min)} to ${formatDuration(max)}: e.g. 90s, 5m, 12h, 30d, or milliseconds` });
      return z.NEVER;
    }
    return ms;
  });
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', 31_536_000_000],
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** `2592000000` → `30d`: the largest unit that divides `ms` (for docs and messages). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const bool = () => z.stringbool().or(z.boolean());
const prefix = () => z.string().regex(PREFIX_PATTERN).max(40);
const httpUrl = () => z.url({ protocol: /^https?$/ });
const SIGNING_ALGS = ['ES256', 'EdDSA'] as const;

/** Where this process listens and keeps its files. */
const server = z.strictObject({
  dataDir: z.string().min(1).default('./.keyturn').describe('Directory for the SQLite database, the master key and the bootstrap admin key.'),
  host: z.string().min(1).default('127.0.0.1').describe('Address to listen on. Loopback by default; set `0.0.0.0` to serve a network.'),
  port: z.coerce.number().int().min(0).max(65535).default(8080).describe('TCP port to listen on (0 picks a free one).'),
  egressAllow: z
    .union([z.string(), z.array(z.string())])
    .transform((value, ctx): string[] => {
      const items = (Array.isArray(value) ? value : value.trim() === 'none' ? [] : value.split(',')).map((item) => item.trim()).filter((item) => item !== '');
      const bad = items.find((item) => !isNetwork(item));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `"${bad.slice(0, 64)}" is not an address or a CIDR network` });
        return z.NEVER;
      }
      return items;
    })
    .default([])
    .describe(
      'Networks (comma-separated addresses or CIDRs, e.g. `127.0.0.1,10.20.0.0/16`; `none` for none) that webhook URLs, watched git remotes and audit sinks added through the admin API or configured as webhook sinks may reach although they are loopback, link-local (cloud metadata), private or reserved addresses. Such URLs are refused otherwise: when registered (the host and every address it resolves to; a configured webhook sink at start) and again before each delivery, connection or run. Local paths stay scannable.',
    ),
  allowLoosePermissions: bool()
    .default(false)
    .describe(
      'Start even when other users can read the data directory (keyturn wants `0700`) or its files (the SQLite database and its `-wal`/`-shm`, `master.key`, `admin.key`: `0600`); a warning is logged instead. Off: such a start is refused with the `chmod` that fixes it.',
    ),
  tlsCert: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of the server certificate (chain): keyturn then serves HTTPS itself. Needs `tlsKey`. `keyturn dev-certs <dir>` makes one for trying it.'),
  tlsKey: z.string().min(1).optional().describe('PEM file of the private key of `tlsCert`.'),
  tlsClientCa: z
    .string()
    .min(1)
    .optional()
    .describe(
      'PEM file of the CAs that issue client certificates (RFC 8705 `tls_client_auth`). Client certificates are requested, never required: each endpoint decides. Self-signed client certificates (`self_signed_tls_client_auth`) are accepted without it.',
    ),
  tlsMinVersion: z
    .enum(['TLSv1.2', 'TLSv1.3'])
    .default('TLSv1.2')
    .describe('Oldest TLS version accepted. TLS-session-bound tokens (RFC 9266 `tls-exporter`) need TLSv1.3 on their connection whatever this says.'),
  mtlsPort: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe(
      'A second HTTPS port that requests client certificates (RFC 8705 `mtls_endpoint_aliases`; 0 picks a free one). The main port then never asks for one, so browsers are never prompted. Needs `tlsCert`.',
    ),
  shutdownTimeout: duration(0, 300_000)
    .prefault('10s')
    .describe(
      'On SIGTERM or SIGINT: how long in-flight requests may finish before their connections are closed (change streams end at once). The process exits at most a few seconds after.',
    ),
});

/** The database. */
const store = z.strictObject({
  db: z
    .string()
    .min(1)
    .optional()
    .describe('Database: a `postgres://` URL (add `?schema=NAME` to use a schema) or an SQLite file path; default `<dataDir>/keyturn.db`.'),
  poolSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(10)
    .describe('PostgreSQL connections each keyturn process keeps in its pool (plus one for the change feed). Ignored for SQLite.'),
  sqliteSynchronous: z
    .enum(['normal', 'full'])
    .default('normal')
    .describe(
      'SQLite durability. `normal` (WAL): a committed change survives a crash of keyturn itself; a power loss may drop the last transactions. `full`: survives power loss, at ~50× fewer writes per second.',
    ),
});

/** Names `@fastify/proxy-addr` knows for whole ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `10.0.0.0/8`, `2001:db8::/32`, a single address, or one of {@link PROXY_RANGE_NAMES}. */
function isProxyNetwork(text: string): boolean {
  if (PROXY_RANGE_NAMES.has(text)) return true;
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * `trustProxy`: which hops in front of keyturn may say who the client is. The old boolean `true`
 * trusted every hop — the left-most `X-Forwarded-For` value, which the client writes itself — so it
 * is refused with a message giving the new forms rather than mapped to a guess.
 * Output: `0` (no proxy), a hop count, or a list of networks.
 */
const trustProxy = () =>
  z.union([z.boolean(), z.number(), z.string(), z.array(z.string())]).transform((value, ctx): number | string[] => {
    const refuse = (message: string) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    if (value === true || (typeof value === 'string' && value.trim().toLowerCase() === 'true')) {
      return refuse(
        '`true` is no longer accepted: it trusted every hop, so any client could name its own address in X-Forwarded-For. Give the networks of your proxies (e.g. `10.0.0.0/8,loopback`) or the number of proxies in front of keyturn (e.g. `1`)',
      );
    }
    if (value === false) return 0;
    if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+\s*$/.test(value))) {
      const hops = Number(value);
      return Number.isSafeInteger(hops) && hops >= 0 && hops <= 16 ? hops : refuse('a hop count must be a whole number from 0 to 16');
    }
    const text = Array.isArray(value) ? value : value.trim().toLowerCase() === 'false' || value.trim() === '' ? [] : value.split(',');
    const networks = text.map((item) => item.trim()).filter((item) => item !== '');
    const bad = networks.find((item) => !isProxyNetwork(item));
    if (bad !== undefined) return refuse(`"${bad.slice(0, 64)}" is not an address, a CIDR network or one of loopback, linklocal, uniquelocal`);
    return networks.length === 0 ? 0 : networks;
  });

/** The HTTP edge. */
const http = z.strictObject({
  bodyLimit: z.coerce.number().int().min(1024).max(10_485_760).default(65_536).describe('Largest accepted request body, in bytes.'),
  trustProxy: trustProxy()
    .default(0)
    .describe(
      'Proxies allowed to name the client in `X-Forwarded-For`: `0` (none: the peer address is the client), a comma-separated list of their networks (`10.0.0.0/8,fd00::/8`, single addresses, or `loopback`, `linklocal`, `uniquelocal`), or the number of proxies in front of keyturn. The client is the right-most address not trusted. The old `true` is refused.',
    ),
  clientCertHeader: z
    .enum(['none', 'client-cert', 'xfcc'])
    .default('none')
    .describe(
      'Behind a TLS-terminating proxy, where the client certificate is read from: `none` (off: only the TLS connection itself), `client-cert` (RFC 9440 `Client-Cert`) or `xfcc` (Envoy `x-forwarded-client-cert`). Accepted only from `clientCertProxies`; from anyone else the header is ignored and audited.',
    ),
  clientCertProxies: z
    .union([z.string(), z.array(z.string())])
    .transform((value, ctx): string[] => {
      const items = (Array.isArray(value) ? value : value.trim() === 'none' ? [] : value.split(',')).map((item) => item.trim()).filter((item) => item !== '');
      const bad = items.find((item) => !isProxyNetwork(item));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `"${bad.slice(0, 64)}" is not an address, a CIDR network or one of loopback, linklocal, uniquelocal` });
        return z.NEVER;
      }
      return items;
    })
    .default([])
    .describe('Networks of the TLS-terminating proxies whose client certificate header (`clientCertHeader`) is believed (comma-separated addresses, CIDRs, or `loopback`, `linklocal`, `uniquelocal`).'),
  changeStreamsPerSource: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(16)
    .describe('Change streams (`GET /v1/keys/changes`) one source network (an IPv4 address, an IPv6 /64) may hold open at once; more are answered `429`.'),
  changeStreamsMax: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1_000)
    .describe('Change streams this process holds open at once, from all sources; more are answered `503` (`ERR_CAPACITY`).'),
});

/** Logs. */
const logging = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (pino).'),
  format: z
    .enum(['auto', 'pretty', 'json'])
    .default('auto')
    .describe('Log and start-up output on standard output: `pretty` (one human-readable line each), `json` (pino JSON lines), or `auto`: pretty on a terminal, JSON otherwise.'),
  requests: bool()
    .default(false)
    .describe(
      'Log one line per HTTP request. Off by default: the hot path stays lean; events record what matters. The hot endpoints (`POST /v1/keys/verify`, `POST /oauth/token`) log a sample: their first request, then one line per 100, with the count since the last line.',
    ),
});

/** API keys and their verification cache. */
const keys = z.strictObject({
  prefix: prefix().default('kt_live').describe('Prefix of new API keys, `[a-z][a-z0-9]*(_[a-z0-9]+)*`.'),
  cacheMaxEntries: z.coerce.number().int().min(0).max(10_000_000).default(100_000).describe('Verification cache size (entries).'),
  cacheMaxAge: duration(0, 86_400_000)
    .prefault('5m')
    .describe('Longest time a cached verification is trusted without re-reading the store, even if no change arrives (a duration, or milliseconds).'),
});

/** The OAuth 2.0 authorization server. */
const oauth = z.strictObject({
  issuer: httpUrl()
    .optional()
    .describe(
      'OAuth issuer URL (RFC 8414). Default: the URL keyturn listens on. Set it to the public https URL in production; required with a `postgres://` database (every node must issue the same).',
    ),
  clientSecretPrefix: prefix().default('ktcs').describe('Prefix of OAuth client secrets.'),
  refreshTokenPrefix: prefix().default('ktr').describe('Prefix of refresh tokens.'),
  accessTokenPrefix: prefix().default('kta').describe('Prefix of opaque access tokens.'),
  dpop: bool()
    .default(true)
    .describe(
      'Accept DPoP proofs (RFC 9449) at the token endpoint and advertise `dpop_signing_alg_values_supported` in discovery. Off: a request with a `DPoP` header is refused (`invalid_dpop_proof`), and so is every token request of a policy requiring `dpop`.',
    ),
  dpopNonce: bool()
    .default(true)
    .describe(
      'Require the server nonce (RFC 9449 section 8) in DPoP proofs at the token endpoint: a proof without it is answered `use_dpop_nonce` with a `DPoP-Nonce` header. Nonces are stateless (an HMAC of the time window), so every node accepts every node\'s.',
    ),
  dpopNonceSecret: z
    .string()
    .regex(/^([0-9a-fA-F]{64,}|[\w-]{43,})$/, 'at least 32 bytes: 64+ hex or 43+ base64url characters')
    .optional()
    .describe('Secret DPoP nonces are HMAC\'d with, the same on every node: 32+ bytes as hex or base64url. Default: derived from the master key (`masterKey`), which every node of a cluster already shares.'),
  dpopProofMaxAge: duration(1_000, 600_000)
    .prefault('60s')
    .describe('How old a DPoP proof (its `iat`) may be; proof ids (`jti`) are remembered, in the store every node shares, for as long.'),
  dpopReplayStore: z
    .enum(['store', 'redis'])
    .default('store')
    .describe(
      'Where DPoP proof ids (`jti`) are remembered so a proof is accepted once on any node: `store` (a table of the database every node shares) or `redis` (`SET NX PX` on `dpopRedisUrl`, keys `keyturn:dpop:as:<sha256>`; loaded only when chosen). Redis unreachable: DPoP token requests are refused (503), never accepted unchecked.',
    ),
  dpopRedisUrl: z
    .url({ protocol: /^rediss?$/ })
    .optional()
    .describe('Redis for `dpopReplayStore: redis`: `redis://[:password@]host:port[/db]`, or `rediss://` for TLS. Every node names the same Redis.'),
});

/** The signing key ring. */
const signing = z.strictObject({
  masterKey: z
    .string()
    .optional()
    .describe(
      'Key-encryption key for signing keys at rest: 32 bytes as 64 hex or 43 base64url characters. Default: `<dataDir>/master.key`, created (mode 0600) on first start. Required with a `postgres://` database: every node of a cluster needs the same.',
    ),
  algs: z
    .string()
    .regex(/^(ES256|EdDSA)(,(ES256|EdDSA))*$/)
    .default('ES256,EdDSA')
    .transform((text) => text.split(',') as (typeof SIGNING_ALGS)[number][])
    .describe('Algorithms the signing key ring keeps keys for (comma-separated: ES256, EdDSA); clients choose one, ES256 by default.'),
  rotation: duration(1_000, 3_153_600_000_000)
    .prefault('30d')
    .describe('Automatic signing key rotation interval (e.g. 30d). The next key is in the JWKS a whole interval before it signs.'),
});

/** Leak watch and response. */
const leaks = z.strictObject({
  response: z
    .enum(['suspend', 'revoke'])
    .default('suspend')
    .describe(
      'What happens to a live keyturn credential found leaked: `suspend` (an API key is quarantined, `keyturn keys unsuspend --ack-leak` lifts it; a client whose secret leaked is disabled) or `revoke` (for good: the key, or the client secret with all its grants and tokens). Leaked refresh and opaque access tokens are revoked in both modes.',
    ),
  suspendLastAdmin: bool()
    .default(false)
    .describe(
      'Consent to suspend (or revoke) the last working admin API key when it is found leaked. Off: it is reported at once (webhooks, event, finding `held`) but left working, so the operator is not locked out. A key is never suspended by a scan that authenticated with it.',
    ),
  webhookUrl: httpUrl().optional().describe("URL that receives every leak notification (`POST`, JSON), in addition to the owner's own webhook."),
  webhookTimeout: duration(100, 60_000).prefault('5s').describe('How long one leak webhook delivery may take before it counts as failed (a duration, or milliseconds).'),
  reportRate: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(30)
    .describe('Public leak reports (`POST /v1/leaks/report`) accepted per minute per source address (token bucket; bursts up to the same number).'),
  githubKeysUrl: httpUrl()
    .default('https://api.github.com/meta/public_keys/secret_scanning')
    .describe("Where the GitHub secret scanning partner endpoint fetches GitHub's signing keys."),
  watchTick: duration(0, 86_400_000)
    .prefault('1m')
    .describe('How often the server looks for due leak watch jobs (a duration, or milliseconds); 0 turns the scheduler off on this node.'),
});

/** Failed authentications from anyone: limited per source network (an IPv4 address, an IPv6 /64). */
const limits = z.strictObject({
  failedVerifyRate: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(600)
    .describe(
      'Failed verifications (`POST /v1/keys/verify`) accepted per minute per source network (token bucket, bursts up to the same number); past it a failure is answered 429 with `Retry-After`. A valid key is never limited or counted.',
    ),
  failedClientAuthRate: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(60)
    .describe(
      'Failed OAuth client authentications (token, introspection and revocation endpoints, together) accepted per minute per source network; past it `invalid_client` becomes 429 `too_many_requests` with `Retry-After`.',
    ),
  failedAdminAuthRate: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(30)
    .describe('Admin API calls with a credential that does not verify accepted per minute per source network; past it 429 with `Retry-After`.'),
  failureDelay: duration(0, 10_000)
    .prefault('1s')
    .describe(
      'How long a 429 answer to a failed authentication is held before it is sent: a client flooding failures waits, so it cannot take the server from valid callers (0 answers at once). Valid credentials are never delayed.',
    ),
});

/** A JSON value given as text (environment, flag) or as JSON (the file). */
function jsonText<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON' });
      return z.NEVER;
    }
  }, schema);
}

const sinkName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'use [a-z][a-z0-9_-]*, at most 63 characters');
const tlsFiles = z.strictObject({
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  servername: z.string().min(1).max(255).optional(),
});
const sinkCommon = {
  name: sinkName,
  types: z.array(z.string().regex(/^[a-z_]+(\.[a-z_*]+)?$/)).max(200).optional(),
  from: z.enum(['start', 'end']).optional(),
  batchSize: z.number().int().min(1).max(1000).optional(),
};
const auditSink = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('syslog'),
    ...sinkCommon,
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    tls: tlsFiles.optional(),
    format: z.enum(['rfc5424', 'cef']).optional(),
    facility: z.enum(['kern', 'user', 'daemon', 'auth', 'syslog', 'authpriv', 'audit', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']).optional(),
    sdId: z.string().regex(/^[^= \]"]{1,32}$/).optional(),
    hostname: z.string().min(1).max(255).optional(),
  }),
  z.strictObject({
    kind: z.literal('file'),
    ...sinkCommon,
    path: z.string().min(1),
    format: z.enum(['jsonl', 'cef', 'ocsf']).optional(),
    maxBytes: z.number().int().min(1024).optional(),
    maxFiles: z.number().int().min(1).max(1000).optional(),
  }),
  z.strictObject({
    kind: z.literal('splunk_hec'),
    ...sinkCommon,
    url: httpUrl(),
    token: z.string().min(1).max(200),
    format: z.enum(['ocsf', 'jsonl']).optional(),
    index: z.string().min(1).max(80).optional(),
    sourcetype: z.string().min(1).max(80).optional(),
    acks: z.boolean().optional(),
    ackTimeoutMs: z.number().int().min(100).max(600_000).optional(),
    tls: tlsFiles.optional(),
  }),
  z.strictObject({
    kind: z.literal('webhook'),
    ...sinkCommon,
    url: httpUrl(),
    secret: z.string().regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'a Standard Webhooks secret: whsec_<base64 of 24 to 64 bytes>'),
  }),
]);

const threshold = (count: number, window: string) =>
  z.strictObject({ count: z.number().int().min(1).max(1_000_000).default(count), window: duration(1_000, 86_400_000).prefault(window) }).prefault({});

/** The audit log: how failures are aggregated and how long events are kept. */
const audit = z.strictObject({
  failureWindow: duration(1_000, 3_600_000)
    .prefault('1m')
    .describe(
      'Failures with the same type, target (or claimed id), reason and source network within this window are one group: the first is recorded in full, the rest in one `audit.failures_summarized` event when the window closes.',
    ),
  failureMaxGroups: z.coerce
    .number()
    .int()
    .min(10)
    .max(1_000_000)
    .default(1_000)
    .describe('Most failure groups open at once; past it failures fold into one overflow group per type and reason. Bounds the failure events written per window at about twice this number.'),
  eventRetention: duration(0, 3_153_600_000_000)
    .prefault('365d')
    .describe('Events older than this are deleted by the housekeeping job (0 keeps them forever).'),
  eventMaxCount: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe(
      'Most events kept; the oldest beyond it are deleted by the housekeeping job (0: no limit). A limit bounds the disk, but lets a flood push old events out sooner: prefer the age limit.',
    ),
  checkpointEvery: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(1_000)
    .describe('A signed checkpoint of the audit log (Merkle tree head, C2SP tlog-checkpoint) is made once this many events were appended on a node since the last one (0: only on the interval).'),
  checkpointInterval: duration(0, 86_400_000)
    .prefault('1m')
    .describe('Longest time between two checkpoints while events are appended (0 turns the timer off; with `checkpointEvery` 0 too, no checkpoint is made and `keyturn audit verify` checks order only).'),
  logOrigin: z
    .string()
    .regex(/^[^\s+]{1,200}$/)
    .optional()
    .describe('The audit log\'s name in its checkpoints (C2SP origin, also the checkpoint key name), e.g. `keyturn.example.com/audit`. Default: `keyturn/audit/<16 hex digits of the log key>`. Changing it makes older checkpoints fail to verify.'),
  sinks: jsonText(z.array(auditSink).max(50))
    .default([])
    .describe(
      'Audit sinks, each fed by its own durable cursor over the event log (see README "SIEM sinks and detections"); more can be added at run time through the admin API (`/v1/audit/sinks`), names unique across both: `{"kind": "syslog", "name", "host", "port", "tls"?: {"ca", "cert", "key"}, "format"?: "rfc5424"|"cef"}`, `{"kind": "file", "name", "path", "format"?: "jsonl"|"cef"|"ocsf", "maxBytes"?, "maxFiles"?}`, `{"kind": "splunk_hec", "name", "url", "token", "acks"?, "format"?: "ocsf"|"jsonl"}`, `{"kind": "webhook", "name", "url", "secret": "whsec_…"}` (batches of canonical records, signed per Standard Webhooks); every kind takes `types`, `from` (`start`|`end`) and `batchSize`. In the environment: JSON text.',
    ),
  usageInterval: duration(0, 86_400_000)
    .prefault('5m')
    .describe('Successful uses of a credential are counted in memory and written as one usage record and one `key.used` event per credential, source network and interval (0 turns usage records off).'),
  detections: jsonText(
    z.strictObject({
      enabled: z.boolean().default(true),
      failureBurst: threshold(20, '5m'),
      multiNetwork: threshold(2, '10m'),
      issuanceBurst: threshold(100, '1h'),
      offHours: z
        .strictObject({ start: z.number().int().min(0).max(23).default(20), end: z.number().int().min(0).max(23).default(7), utcOffsetMinutes: z.number().int().min(-840).max(840).default(0) })
        .prefault({}),
      bindingMismatch: threshold(1, '10m'),
      suspendOn: z.array(z.enum(['credential_misuse', 'multi_network', 'failure_burst', 'binding_mismatch'])).default([]),
    }).prefault({}),
  )
    .prefault({})
    .describe(
      'Detection rules on the event stream and their thresholds: `failureBurst` (failed verifications per credential or source network), `multiNetwork` (networks per credential), `issuanceBurst` (tokens issued per client), `offHours` (admin keys created then are high severity), `bindingMismatch` (bound tokens or keys presented with the wrong DPoP key, certificate or TLS session, or a replayed proof, per credential; default 1 in 10 minutes), `suspendOn` (rules whose findings act on the credential they name: suspend the API key; for `binding_mismatch` also revoke a DPoP-bound refresh family with its access tokens, or disable a client that authenticated and then failed its binding). In the environment: JSON text.',
    ),
});

/** Lifetime policies and scheduled rotation. */
const rotation = z.strictObject({
  defaultPolicy: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,63}$/)
    .default('default')
    .describe('The stored lifetime policy a key follows when neither it nor its principal names one (`default`, `banking`, `public-read`, `internal`, or one you created).'),
  tick: duration(0, 86_400_000)
    .prefault('1m')
    .describe('How often the server looks for credentials whose rotation is due or whose grace or deadline has passed (a duration, or milliseconds); 0 turns the scheduler off on this node.'),
  share: z.coerce
    .number()
    .min(0.01)
    .max(1)
    .default(0.2)
    .describe(
      "The most of a process's time scheduled rotation may take while credentials are due (0.01–1). After each transaction of 100 keys or client secrets the scheduler pauses for as long as that took times (1 − share) / share, plus the event loop's busy time during the pause divided by the share, so the work a transaction triggers afterwards (sealing its events into audit checkpoints, cache invalidations, webhook deliveries, garbage collection) counts as rotation's; while other work such as verification keeps the process busy the pause grows, up to what leaves rotation a quarter of its share. 1: no pause.",
    ),
  notice: duration(0, 31_536_000_000)
    .prefault('7d')
    .describe(
      "How long before a credential's scheduled rotation, expiry or maximum age its owner's webhooks are told (`key.rotation_due`, `key.expiring` for API keys; `client.secret_rotation_due`, `client.secret_expiring` for OAuth client secrets; once per credential per deadline).",
    ),
});

/** The groups of the configuration, one per capability, in the order the reference lists them. */
export const CONFIG_GROUPS = { server, store, http, logging, keys, oauth, signing, leaks, limits, audit, rotation } as const;
export type ConfigGroup = keyof typeof CONFIG_GROUPS;

/**
 * Every setting keyturn reads, grouped per capability, with its default and its description. The
 * configuration reference (`docs/configuration.md`) is generated from this schema
 * (`npm run docs:config`); a test keeps the two in step. Durations come out in milliseconds.
 *
 * Sources, later ones winning: defaults → the JSON file (`--config` or `KEYTURN_CONFIG`, grouped:
 * `{"server": {"port": 8080}}`) → environment (`KEYTURN_<SETTING>`, see {@link SETTINGS}) →
 * command-line flags (`--<setting>`).
 */
export const configSchema = z.strictObject({
  server: server.prefault({}),
  store: store.prefault({}),
  http: http.prefault({}),
  logging: logging.prefault({}),
  keys: keys.prefault({}),
  oauth: oauth.prefault({}),
  signing: signing.prefault({}),
  leaks: leaks.prefault({}),
  limits: limits.prefault({}),
  audit: audit.prefault({}),
  rotation: rotation.prefault({}),
});

/**
 * The flat name of every setting — the one its flag (`--key-prefix`) and environment variable
 * (`KEYTURN_KEY_PREFIX`) are made from, unchanged since settings were flat — and its place in the
 * grouped configuration. One flag and one variable per leaf; a test checks every leaf is here once.
 */
export const SETTINGS = {
  dataDir: 'server.dataDir',
  host: 'server.host',
  port: 'server.port',
  egressAllow: 'server.egressAllow',
  allowLoosePermissions: 'server.allowLoosePermissions',
  shutdownTimeout: 'server.shutdownTimeout',
  tlsCert: 'server.tlsCert',
  tlsKey: 'server.tlsKey',
  tlsClientCa: 'server.tlsClientCa',
  tlsMinVersion: 'server.tlsMinVersion',
  mtlsPort: 'server.mtlsPort',
  db: 'store.db',
  dbPoolSize: 'store.poolSize',
  sqliteSynchronous: 'store.sqliteSynchronous',
  bodyLimit: 'http.bodyLimit',
  trustProxy: 'http.trustProxy',
  clientCertHeader: 'http.clientCertHeader',
  clientCertProxies: 'http.clientCertProxies',
  changeStreamsPerSource: 'http.changeStreamsPerSource',
  changeStreamsMax: 'http.changeStreamsMax',
  logLevel: 'logging.level',
  logFormat: 'logging.format',
  logRequests: 'logging.requests',
  keyPrefix: 'keys.prefix',
  cacheMaxEntries: 'keys.cacheMaxEntries',
  cacheMaxAge: 'keys.cacheMaxAge',
  issuer: 'oauth.issuer',
  clientSecretPrefix: 'oauth.clientSecretPrefix',
  refreshTokenPrefix: 'oauth.refreshTokenPrefix',
  accessTokenPrefix: 'oauth.accessTokenPrefix',
  dpop: 'oauth.dpop',
  dpopNonce: 'oauth.dpopNonce',
  dpopNonceSecret: 'oauth.dpopNonceSecret',
  dpopProofMaxAge: 'oauth.dpopProofMaxAge',
  dpopReplayStore: 'oauth.dpopReplayStore',
  dpopRedisUrl: 'oauth.dpopRedisUrl',
  masterKey: 'signing.masterKey',
  signingAlgs: 'signing.algs',
  signingKeyRotation: 'signing.rotation',
  leakResponse: 'leaks.response',
  leakSuspendLastAdmin: 'leaks.suspendLastAdmin',
  leakWebhookUrl: 'leaks.webhookUrl',
  leakWebhookTimeout: 'leaks.webhookTimeout',
  leakReportRate: 'leaks.reportRate',
  githubKeysUrl: 'leaks.githubKeysUrl',
  watchTick: 'leaks.watchTick',
  failedVerifyRate: 'limits.failedVerifyRate',
  failedClientAuthRate: 'limits.failedClientAuthRate',
  failedAdminAuthRate: 'limits.failedAdminAuthRate',
  failureDelay: 'limits.failureDelay',
  failureWindow: 'audit.failureWindow',
  failureMaxGroups: 'audit.failureMaxGroups',
  eventRetention: 'audit.eventRetention',
  eventMaxCount: 'audit.eventMaxCount',
  checkpointEvery: 'audit.checkpointEvery',
  checkpointInterval: 'audit.checkpointInterval',
  logOrigin: 'audit.logOrigin',
  auditSinks: 'audit.sinks',
  usageInterval: 'audit.usageInterval',
  detections: 'audit.detections',
  defaultPolicy: 'rotation.defaultPolicy',
  rotationTick: 'rotation.tick',
  rotationNotice: 'rotation.notice',
  rotationShare: 'rotation.share',
} as const satisfies Record<string, `${ConfigGroup}.${string}`>;

/** A setting's flat name (flag and environment variable are made from it). */
export type SettingName = keyof typeof SETTINGS;

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** The setting whose grouped place is `path` (e.g. `server.port` → `port`). */
export function settingAt(path: string): SettingName | undefined {
  return SETTING_NAMES.find((name) => SETTINGS[name] === path);
}

/** The schema of one setting, by flat name. */
export function settingSchema(name: SettingName): z.ZodType {
  const [group, leaf] = SETTINGS[name].split('.') as [ConfigGroup, string];
  return (CONFIG_GROUPS[group].shape as Record<string, z.ZodType>)[leaf]!;
}

type DeepReadonly<T> = T extends readonly (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The validated, immutable configuration. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;
/** The grouped shape the JSON file takes. */
export type ConfigInput = z.input<typeof configSchema>;
/** Settings by flat name, as flags (and tests) give them. */
export type ConfigFlags = { readonly [K in SettingName]?: string | number | boolean | undefined };

/** `dataDir` → `KEYTURN_DATA_DIR`. */
export function envName(name: string): string {
  return `KEYTURN_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** `dataDir` → `--data-dir`. */
export function flagName(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
