import { readFileSync } from 'node:fs';
import { KeyturnError } from '../core/errors.js';
import { CONFIG_GROUPS, configSchema, envName, SETTING_NAMES, SETTINGS, settingAt, type Config, type ConfigFlags, type SettingName } from './schema.js';

export interface ConfigSources {
  /** Path of a JSON configuration file (grouped: `{"server": {"port": 8080}}`). */
  readonly file?: string | undefined;
  /** Usually `process.env`; only `KEYTURN_*` names are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Command-line flags by flat setting name (undefined and empty values are ignored). */
  readonly flags?: ConfigFlags | Readonly<Record<string, unknown>>;
}

type Tree = Record<string, Record<string, unknown>>;

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new KeyturnError('ERR_CONFIG', `cannot read configuration file ${path}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyturnError('ERR_CONFIG', `configuration file ${path} is not a JSON object`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new KeyturnError('ERR_CONFIG', `configuration file ${path} is not a JSON object`);
  const record = parsed as Record<string, unknown>;
  // A flat file from before the settings were grouped: say where each setting lives now.
  const flat = Object.keys(record).filter((key): key is SettingName => key in SETTINGS);
  if (flat.length > 0) {
    const moves = flat.map((key) => `"${key}" is now "${SETTINGS[key]}"`).join(', ');
    throw new KeyturnError('ERR_CONFIG', `configuration file ${path}: settings are grouped now (e.g. {"server": {"port": 8080}}): ${moves}`);
  }
  return record;
}

/** Puts `value` at the grouped place of setting `name`. */
function place(tree: Tree, name: SettingName, value: unknown): void {
  const [group, leaf] = SETTINGS[name].split('.') as [string, string];
  tree[group] = { ...(tree[group] ?? {}), [leaf]: value };
}

/** File values first, then environment and flags over them, group by group. */
function mergeFile(file: Record<string, unknown>): Tree {
  const tree: Tree = {};
  for (const [key, value] of Object.entries(file)) {
    // Unknown keys and non-objects go through as they are: the schema names them.
    tree[key] = key in CONFIG_GROUPS && value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : (value as Record<string, unknown>);
  }
  return tree;
}

/** `server.port: …` → `port (server.port): …`: the name flags and environment use, and the place in the file. */
function where(path: readonly PropertyKey[]): string {
  const dotted = path.map(String).join('.');
  const name = settingAt(dotted);
  return name === undefined ? dotted || 'configuration' : `${name} (${dotted})`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Merges defaults, file, environment and flags into one immutable, validated {@link Config}.
 * Environment variables and flags keep their flat names (`KEYTURN_PORT`, `--port`); the file is
 * grouped. Throws `ERR_CONFIG` naming the bad setting by both names.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: process.env, flags: { port: 9090 } });
 * config.server.port; // 9090
 * ```
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const file = sources.file ?? sources.env?.KEYTURN_CONFIG;
  const tree = file ? mergeFile(readFile(file)) : {};
  for (const name of SETTING_NAMES) {
    const value = sources.env?.[envName(name)];
    if (value !== undefined && value !== '') place(tree, name, value);
  }
  const flags = (sources.flags ?? {}) as Readonly<Record<string, unknown>>;
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined || value === '') continue;
    if (!(key in SETTINGS)) throw new KeyturnError('ERR_CONFIG', `configuration: unknown setting "${key}"`);
    place(tree, key as SettingName, value);
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new KeyturnError('ERR_CONFIG', `configuration: ${issue ? `${where(issue.path)}: ${issue.message}` : 'invalid'}`);
  }
  return deepFreeze(result.data) as Config;
}
