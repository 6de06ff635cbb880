import { tryParseSecret } from './secret.js';

const CANDIDATE = /[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{49}(?![0-9A-Za-z])/g;

/**
 * Replaces every keyturn-format secret in `text` (confirmed by its checksum) with
 * `<prefix>_[REDACTED]`. A last line of defence for events and logs: nothing should reach it.
 */
export function redactSecrets(text: string): string {
  if (text.length < 51) return text;
  return text.replace(CANDIDATE, (match) => {
    // A prefix may have swallowed leading word characters: try each underscore-split tail.
    for (let i = 0; i < match.length - 50; i++) {
      if (i > 0 && match[i - 1] !== '_') continue;
      const parsed = tryParseSecret(match.slice(i));
      if (parsed) return `${match.slice(0, i)}${parsed.prefix}_[REDACTED]`;
    }
    return match;
  });
}

/**
 * Removes the credentials of a URL (`https://user:token@host/…` → `https://host/…`); any other
 * text is returned as is. For places a leak was seen and scan sources, which are recorded.
 *
 * @example
 * ```ts
 * withoutCredentials('https://bot:ghp_x@github.com/acme/app.git'); // 'https://github.com/acme/app.git'
 * ```
 */
export function withoutCredentials(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const url = new URL(text);
    if (!url.username && !url.password) return text;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return text.replace(/\/\/[^/@\s]*@/, '//');
  }
}
