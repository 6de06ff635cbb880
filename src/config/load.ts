import { readFileSync } from 'node:fs';
import { KeyturnError } from '../core/errors.js';
import { validate } from '../core/validate.js';
import { CONFIG_KEYS, configSchema, envName, type Config } from './schema.js';

export interface ConfigSources {
  /** Path of a JSON configuration file. */
  readonly file?: string | undefined;
  /** Usually `process.env`; only `KEYTURN_*` names are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Command-line flags (undefined values are ignored). */
  readonly flags?: Readonly<Record<string, unknown>>;
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new KeyturnError('ERR_CONFIG', `cannot read configuration file ${path}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new KeyturnError('ERR_CONFIG', `configuration file ${path} is not a JSON object`);
  }
}

function defined(record: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record ?? {})) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/**
 * Merges defaults, file, environment and flags into one immutable, validated {@link Config}.
 * Throws `ERR_CONFIG` naming the bad setting.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: process.env, flags: { port: 9090 } });
 * ```
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const file = sources.file ?? sources.env?.KEYTURN_CONFIG;
  const fromEnv: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = sources.env?.[envName(key)];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const merged = { ...(file ? readFile(file) : {}), ...fromEnv, ...defined(sources.flags) };
  try {
    return Object.freeze(validate(configSchema, merged));
  } catch (err) {
    if (err instanceof KeyturnError) throw new KeyturnError('ERR_CONFIG', `configuration: ${err.message}`);
    throw err;
  }
}
