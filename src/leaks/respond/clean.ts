import { redactSecrets, withoutCredentials } from '../../core/redact.js';
import { secretDigest } from '../../core/secret.js';
import type { Sighting } from './finding.js';
import { untrustedText } from './untrusted.js';

/**
 * What the response keeps of a place a secret was seen: text stripped of URL credentials and
 * keyturn secrets and bounded in size, and one key per distinct place.
 */

function clean(text: string | undefined, max: number): string | null {
  if (text === undefined) return null;
  return redactSecrets(withoutCredentials(text)).slice(0, max);
}

/**
 * A sighting with every text field cleaned and bounded.
 *
 * @example
 * ```ts
 * cleanSighting({ via: 'scan', source: 'https://bot:tok@example.com/r.git' }).source; // 'https://example.com/r.git'
 * ```
 */
export function cleanSighting(s: Sighting): Sighting {
  const source = clean(s.source, 2048);
  const file = clean(s.file, 1024);
  const given = clean(s.url ?? s.untrustedUrl, 2048);
  // A public reporter's URL is anyone's text: kept and shown only defanged, never as a link.
  const outsider = s.via === 'report' || s.untrustedUrl !== undefined;
  const url = given === null || outsider ? null : given;
  const untrustedUrl = given !== null && outsider ? untrustedText(given).slice(0, 2048) : null;
  return {
    via: s.via,
    ...(source === null ? {} : { source }),
    ...(file === null ? {} : { file }),
    ...(s.line === undefined ? {} : { line: s.line }),
    ...(s.column === undefined ? {} : { column: s.column }),
    ...(s.commit === undefined ? {} : { commit: s.commit.slice(0, 64) }),
    ...(url === null ? {} : { url }),
    ...(untrustedUrl === null ? {} : { untrustedUrl }),
    ...(s.watchId === undefined ? {} : { watchId: s.watchId }),
  };
}

/** The key of a distinct place: the SHA-256 (hex, the same digest as secrets') of all its fields. */
export function placeKey(s: Sighting): string {
  const parts = [s.via, s.source ?? '', s.file ?? '', s.line ?? '', s.column ?? '', s.commit ?? '', s.url ?? s.untrustedUrl ?? '', s.watchId ?? ''];
  return secretDigest(JSON.stringify(parts));
}
