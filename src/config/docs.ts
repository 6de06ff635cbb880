import type { z } from 'zod';
import { CONFIG_GROUPS, configSchema, envName, flagName, formatDuration, SETTING_NAMES, SETTINGS, settingSchema, type ConfigGroup } from './schema.js';

/** Settings whose value is a duration (shown as one in the reference; milliseconds once parsed). */
const DURATIONS = new Set(['keys.cacheMaxAge', 'signing.rotation', 'leaks.webhookTimeout', 'leaks.watchTick', 'limits.failureDelay', 'audit.failureWindow', 'audit.eventRetention', 'audit.usageInterval']);

/** The configuration reference, generated from {@link configSchema}'s descriptions. */
export function configurationReference(): string {
  const defaults = configSchema.parse({}) as Record<string, Record<string, unknown>>;
  const sections = (Object.keys(CONFIG_GROUPS) as ConfigGroup[]).flatMap((group) => {
    const rows = SETTING_NAMES.filter((name) => SETTINGS[name].startsWith(`${group}.`)).map((name) => {
      const path = SETTINGS[name];
      const leaf = path.slice(group.length + 1);
      const value = defaults[group]![leaf];
      const shown = value === undefined ? '—' : DURATIONS.has(path) ? `\`"${formatDuration(value as number)}"\`` : `\`${JSON.stringify(Array.isArray(value) ? value.join(',') : value)}\``;
      return `| \`${path}\` | \`${envName(name)}\` | \`${flagName(name)}\` | ${shown} | ${(settingSchema(name) as z.ZodType).description ?? ''} |`;
    });
    return [`## \`${group}\``, '', '| setting | environment | flag | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows, ''];
  });
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; a test keeps it current. Do not edit by hand. -->',
    '',
    'Sources, later ones winning: defaults → JSON file (`--config FILE` or `KEYTURN_CONFIG`) → environment → command-line flags',
    '(flags are options of `keyturn serve`).',
    '',
    'Settings are grouped per capability. In the JSON file they sit in their group:',
    '',
    '```json',
    '{ "server": { "port": 8080 }, "store": { "db": "postgres://keyturn@db/keyturn" }, "signing": { "rotation": "30d" } }',
    '```',
    '',
    'Every setting keeps one environment variable and one flag, named after its flat name as before the grouping',
    '(`leaks.response` is `KEYTURN_LEAK_RESPONSE` and `--leak-response`); the tables below give each mapping.',
    'A flat file from before the grouping (`{"port": 8080}`) is refused at start with an `ERR_CONFIG` error that names',
    'the new place of each flat key (`"port" is now "server.port"`).',
    '',
    'Durations take a duration (`90s`, `5m`, `12h`, `30d`, `1h30m`) or a whole number of milliseconds; the running',
    'configuration holds milliseconds.',
    '',
    ...sections,
  ].join('\n');
}
