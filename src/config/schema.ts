import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
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

/** The HTTP edge. */
const http = z.strictObject({
  bodyLimit: z.coerce.number().int().min(1024).max(10_485_760).default(65_536).describe('Largest accepted request body, in bytes.'),
  trustProxy: bool().default(false).describe('Trust `X-Forwarded-For` for source addresses (only behind a proxy you control).'),
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
    .describe('What happens to a live keyturn API key found leaked: `suspend` (quarantine; `keyturn keys unsuspend` lifts it) or `revoke` (for good).'),
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

/** The groups of the configuration, one per capability, in the order the reference lists them. */
export const CONFIG_GROUPS = { server, store, http, logging, keys, oauth, signing, leaks } as const;
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
  shutdownTimeout: 'server.shutdownTimeout',
  db: 'store.db',
  dbPoolSize: 'store.poolSize',
  sqliteSynchronous: 'store.sqliteSynchronous',
  bodyLimit: 'http.bodyLimit',
  trustProxy: 'http.trustProxy',
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
  masterKey: 'signing.masterKey',
  signingAlgs: 'signing.algs',
  signingKeyRotation: 'signing.rotation',
  leakResponse: 'leaks.response',
  leakWebhookUrl: 'leaks.webhookUrl',
  leakWebhookTimeout: 'leaks.webhookTimeout',
  leakReportRate: 'leaks.reportRate',
  githubKeysUrl: 'leaks.githubKeysUrl',
  watchTick: 'leaks.watchTick',
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
