import type { z } from 'zod';
import { configSchema, envName } from './schema.js';

/** `dataDir` → `--data-dir`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The configuration reference, generated from {@link configSchema}'s descriptions. */
export function configurationReference(): string {
  const defaults: Record<string, unknown> = configSchema.parse({});
  const rows = Object.entries(configSchema.shape).map(([key, field]) => {
    const value = defaults[key] === undefined ? '—' : `\`${JSON.stringify(defaults[key])}\``;
    return `| \`${key}\` | \`${envName(key)}\` | \`${flagName(key)}\` | ${value} | ${(field as z.ZodType).description ?? ''} |`;
  });
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; a test keeps it current. Do not edit by hand. -->',
    '',
    'Sources, later ones winning: defaults → JSON file (`--config FILE` or `KEYTURN_CONFIG`) → environment → command-line flags',
    '(flags are options of `keyturn serve`).',
    '',
    '| setting | environment | flag | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
