import { z } from 'zod';
import { PREFIX_PATTERN } from '../core/secret.js';

/**
 * Every setting keyturn reads, with its default and its description. The configuration reference
 * (`docs/configuration.md`) is generated from this schema (`npm run docs:config`); a test keeps
 * the two in step.
 *
 * Sources, later ones winning: defaults → the JSON file (`--config` or `KEYTURN_CONFIG`) →
 * environment (`KEYTURN_<SETTING>` in upper snake case, e.g. `KEYTURN_DATA_DIR`) → command-line flags.
 */
export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./.keyturn').describe('Directory for the SQLite database and the bootstrap admin key.'),
  db: z
    .string()
    .min(1)
    .optional()
    .describe('Database: a `postgres://` URL (add `?schema=NAME` to use a schema) or an SQLite file path; default `<dataDir>/keyturn.db`.'),
  dbPoolSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(10)
    .describe('PostgreSQL connections each keyturn process keeps in its pool (plus one for the change feed). Ignored for SQLite.'),
  host: z.string().min(1).default('127.0.0.1').describe('Address to listen on. Loopback by default; set `0.0.0.0` to serve a network.'),
  port: z.coerce.number().int().min(0).max(65535).default(8080).describe('TCP port to listen on (0 picks a free one).'),
  keyPrefix: z
    .string()
    .regex(PREFIX_PATTERN)
    .max(40)
    .default('kt_live')
    .describe('Prefix of new API keys, `[a-z][a-z0-9]*(_[a-z0-9]+)*`.'),
  issuer: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'OAuth issuer URL (RFC 8414). Default: the URL keyturn listens on. Set it to the public https URL in production; required with a `postgres://` database (every node must issue the same).',
    ),
  masterKey: z
    .string()
    .optional()
    .describe(
      'Key-encryption key for signing keys at rest: 32 bytes as 64 hex or 43 base64url characters. Default: `<dataDir>/master.key`, created (mode 0600) on first start. Required with a `postgres://` database: every node of a cluster needs the same.',
    ),
  signingAlgs: z
    .string()
    .regex(/^(ES256|EdDSA)(,(ES256|EdDSA))*$/)
    .default('ES256,EdDSA')
    .describe('Algorithms the signing key ring keeps keys for (comma-separated: ES256, EdDSA); clients choose one, ES256 by default.'),
  signingKeyRotation: z
    .string()
    .regex(/^(\d+(ms|s|m|h|d|w|y))+$/)
    .default('30d')
    .describe('Automatic signing key rotation interval (e.g. 30d). The next key is in the JWKS a whole interval before it signs.'),
  clientSecretPrefix: z.string().regex(PREFIX_PATTERN).max(40).default('ktcs').describe('Prefix of OAuth client secrets.'),
  refreshTokenPrefix: z.string().regex(PREFIX_PATTERN).max(40).default('ktr').describe('Prefix of refresh tokens.'),
  accessTokenPrefix: z.string().regex(PREFIX_PATTERN).max(40).default('kta').describe('Prefix of opaque access tokens.'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (pino).'),
  logRequests: z
    .stringbool()
    .or(z.boolean())
    .default(false)
    .describe('Log one line per HTTP request. Off by default: the hot path stays lean; events record what matters.'),
  bodyLimit: z.coerce.number().int().min(1024).max(10_485_760).default(65_536).describe('Largest accepted request body, in bytes.'),
  cacheMaxEntries: z.coerce.number().int().min(0).max(10_000_000).default(100_000).describe('Verification cache size (entries).'),
  cacheMaxAge: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(300_000)
    .describe('Longest time (ms) a cached verification is trusted without re-reading the store, even if no change arrives.'),
  sqliteSynchronous: z
    .enum(['normal', 'full'])
    .default('normal')
    .describe(
      'SQLite durability. `normal` (WAL): a committed change survives a crash of keyturn itself; a power loss may drop the last transactions. `full`: survives power loss, at ~50× fewer writes per second.',
    ),
  trustProxy: z
    .stringbool()
    .or(z.boolean())
    .default(false)
    .describe('Trust `X-Forwarded-For` for source addresses (only behind a proxy you control).'),
  leakResponse: z
    .enum(['suspend', 'revoke'])
    .default('suspend')
    .describe('What happens to a live keyturn API key found leaked: `suspend` (quarantine; `keyturn keys unsuspend` lifts it) or `revoke` (for good).'),
  leakWebhookUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("URL that receives every leak notification (`POST`, JSON), in addition to the owner's own webhook."),
  leakWebhookTimeout: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(5_000)
    .describe('How long (ms) one leak webhook delivery may take before it counts as failed.'),
  leakReportRate: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(30)
    .describe('Public leak reports (`POST /v1/leaks/report`) accepted per minute per source address (token bucket; bursts up to the same number).'),
  githubKeysUrl: z
    .url({ protocol: /^https?$/ })
    .default('https://api.github.com/meta/public_keys/secret_scanning')
    .describe("Where the GitHub secret scanning partner endpoint fetches GitHub's signing keys."),
  watchTick: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(60_000)
    .describe('How often (ms) the server looks for due leak watch jobs; 0 turns the scheduler off on this node.'),
});

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/** `dataDir` → `KEYTURN_DATA_DIR`. */
export function envName(key: string): string {
  return `KEYTURN_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
