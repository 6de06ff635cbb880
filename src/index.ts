/**
 * `keyturn`: the server as a library — start it in-process, or open its services against a store
 * without HTTP. API servers that only verify credentials import `keyturn/verifier` instead.
 *
 * @example
 * ```ts
 * import { loadConfig, startServer } from 'keyturn';
 *
 * const server = await startServer(loadConfig({ env: process.env, flags: { port: 0 } }));
 * console.log(`keyturn on ${server.url}`);
 * await server.close();
 * ```
 *
 * @packageDocumentation
 */
export { loadConfig, type ConfigSources } from './config/load.js';
export { configSchema, SETTINGS, type Config, type ConfigFlags, type ConfigInput, type SettingName } from './config/schema.js';
export { systemContext, manualContext, type Context, type ManualContext } from './core/context.js';
export { KEYTURN_ERROR_CODES, KeyturnError, isKeyturnError, type KeyturnErrorCode } from './core/errors.js';
export { POLICY_PRESETS, resolvePolicy, type Policy } from './core/policy.js';
export {
  generateSecret,
  parseSecret,
  secretChecksum,
  secretDigest,
  tryParseSecret,
  PREFIX_PATTERN,
  type ParsedSecret,
} from './core/secret.js';
export type { AuditEvent, EventType, RequestMeta } from './audit/events.js';
export type { KeyView, Verification, VerifiedKey } from './keys/service.js';
export type { Principal } from './principals/service.js';
export { openKeyturn, MIGRATIONS, type Keyturn } from './runtime/open.js';
export { startServer, type RunningServer } from './runtime/serve.js';
export type { Store } from './store/port.js';
