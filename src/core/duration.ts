import { KeyturnError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 } as const;

/**
 * Parses a duration such as `90s`, `15m`, `12h`, `30d`, `1y` or `1h30m` into milliseconds.
 * Throws `ERR_VALIDATION` on anything else (zero and negative durations included).
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input.length === 0 || input.length > 32 || !/^(\d+(ms|s|m|h|d|w|y))+$/.test(input)) {
    throw new KeyturnError('ERR_VALIDATION', `invalid duration "${input.slice(0, 32)}": use e.g. 90s, 15m, 12h, 30d, 1y`);
  }
  let total = 0;
  for (const match of input.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(total) || total <= 0) {
    throw new KeyturnError('ERR_VALIDATION', `invalid duration "${input}": must be positive and finite`);
  }
  return total;
}
