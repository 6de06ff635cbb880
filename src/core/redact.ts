import { BODY_LENGTH, CHECK_LENGTH, MAX_PREFIX_LENGTH, PREFIX_PATTERN, secretChecksum } from './secret.js';

/** A `_` followed by at least a body and a check: where a keyturn secret's body may start. */
const SEPARATOR = new RegExp(`_(?=[0-9A-Za-z]{${BODY_LENGTH + CHECK_LENGTH}})`, 'g');
const TAIL = BODY_LENGTH + CHECK_LENGTH;

/** `[a-z0-9_]`: the characters a prefix is made of. */
function prefixChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x5f;
}

/**
 * Replaces every keyturn-format secret in `text` (confirmed by its checksum) with
 * `<prefix>_[REDACTED]`, wherever it stands: glued to the words before it (`xkt_live_…`) or
 * after it (`…Q1w2e3more`), in a URL, a JSON string or a log line. A last line of defence for
 * events and logs: nothing should reach it.
 *
 * A secret's body starts right after a `_` and is exactly {@link BODY_LENGTH} + {@link CHECK_LENGTH}
 * base62 characters, so each such `_` is tried with every prefix ending there (at most
 * {@link MAX_PREFIX_LENGTH} characters back), longest first; the CRC-32 check decides.
 */
export function redactSecrets(text: string): string {
  if (text.length < TAIL + 2) return text;
  let out = '';
  let last = 0;
  SEPARATOR.lastIndex = 0;
  for (let m = SEPARATOR.exec(text); m !== null; m = SEPARATOR.exec(text)) {
    const sep = m.index;
    let start = sep;
    while (start > last && sep - start < MAX_PREFIX_LENGTH && prefixChar(text.charCodeAt(start - 1))) start--;
    const body = text.slice(sep + 1, sep + 1 + BODY_LENGTH);
    const check = text.slice(sep + 1 + BODY_LENGTH, sep + 1 + TAIL);
    for (let i = start; i < sep; i++) {
      const prefix = text.slice(i, sep);
      if (!PREFIX_PATTERN.test(prefix) || secretChecksum(`${prefix}_${body}`) !== check) continue;
      out += `${text.slice(last, i)}${prefix}_[REDACTED]`;
      last = sep + 1 + TAIL;
      SEPARATOR.lastIndex = last;
      break;
    }
  }
  return last === 0 ? text : out + text.slice(last);
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
