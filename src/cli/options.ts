import { CommanderError } from 'commander';
import { parseDuration } from '../core/duration.js';

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * `a,b,c` → a list for `flag`, each item a token without spaces: an empty list or an item with a
 * space is a usage error, not a request.
 */
export function commaList(flag: string, what: string): (value: string) => string[] {
  return (value) => {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (list.length === 0) throw new Error(`${flag}: empty list (give comma-separated ${what}s)`);
    for (const item of list) {
      if (!SCOPE_TOKEN.test(item)) {
        const hint = /\s/.test(item) ? ` (separate ${what}s with commas: ${item.split(/\s+/).join(',')})` : '';
        throw new Error(`${flag}: ${JSON.stringify(item.slice(0, 100))} is not a ${what}${hint}`);
      }
    }
    return list;
  };
}

export const scopesOption = commaList('--scopes', 'scope');

/** `--limit`: a whole number from 1 to 1000. */
export function limitOption(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new Error(`--limit: expected a whole number from 1 to 1000, got ${JSON.stringify(value.slice(0, 20))}`);
  return value;
}

export function durationOption(value: string): string {
  parseDuration(value);
  return value;
}

/** `0` or a duration, in whole seconds. */
export function graceOption(value: string): number {
  return value === '0' ? 0 : Math.floor(parseDuration(value) / 1000);
}

/** Wraps commander's option parsers so a bad value is a usage error with one line. */
export function checked<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new CommanderError(2, 'keyturn.invalidArgument', err instanceof Error ? err.message : String(err));
    }
  };
}

