/**
 * Known non-secrets: placeholders, templates, UUIDs, and regions of a text that hold public
 * data by construction (base64 `data:` URIs, lockfile `integrity` values, certificates and
 * public keys). Matches inside those regions are dropped.
 */

const PLACEHOLDER_PARTS = [
  'xxxx', 'XXXX', '****', '....', '…', '${', '{{', '}}', '%(', '$(', '#{', '<%', 'changeme', 'change_me', 'change-me',
  'replace_me', 'replaceme', 'your_', 'your-', 'yourkey', 'yourtoken', 'yoursecret', 'yourpassword', 'placeholder', 'example',
  'dummy', 'redacted', 'insert_', 'fixme', 'todo', 'sample', 'notasecret', 'not_a_secret', 'not-a-secret', 'foobar',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for values that stand in for a secret rather than being one. */
export function isPlaceholder(value: string): boolean {
  const lower = value.toLowerCase();
  for (const part of PLACEHOLDER_PARTS) if (lower.includes(part.toLowerCase())) return true;
  if (/^<[^>]*>$/.test(value) || (value.includes('<') && value.includes('>'))) return true;
  if (/^(.)\1+$/.test(value) || /(.)\1{5,}/.test(value)) return true;
  if (/^\$[A-Za-z_{(]/.test(value) || /^%[A-Za-z_]+%$/.test(value)) return true;
  return UUID.test(value);
}

/** A half-open span `[start, end)` of a text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

const DATA_URI = /data:[A-Za-z0-9.+/-]+(?:;[A-Za-z0-9=.-]+)*;base64,[A-Za-z0-9+/=\s\\]+/g;
const INTEGRITY = /sha(?:1|256|384|512)-[A-Za-z0-9+/]{20,}={0,2}/g;
const PUBLIC_PEM = /-----BEGIN (?:CERTIFICATE|TRUSTED CERTIFICATE|X509 CRL|CERTIFICATE REQUEST|NEW CERTIFICATE REQUEST|(?:RSA |EC |SSH2 |PGP )?PUBLIC KEY(?: BLOCK)?)-----[\s\S]{0,40000}?-----END [A-Z0-9 ]+-----/g;
const SSH_PUBLIC = /\b(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) AAAA[A-Za-z0-9+/]+={0,2}/g;

/** True when `text` holds `sha1-`, `sha256-`, `sha384-` or `sha512-` (one pass over the text). */
function hasIntegrityMarker(text: string): boolean {
  for (let i = text.indexOf('sha'); i !== -1; i = text.indexOf('sha', i + 3)) {
    if (text.startsWith('1-', i + 3) || text.startsWith('256-', i + 3) || text.startsWith('384-', i + 3) || text.startsWith('512-', i + 3)) return true;
  }
  return false;
}

/** Regions of `text` that only hold public data; cheap literal checks first. */
export function publicRegions(text: string): Span[] {
  const spans: Span[] = [];
  const add = (re: RegExp): void => {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) spans.push({ start: m.index, end: m.index + m[0].length });
  };
  if (text.includes(';base64,')) add(DATA_URI);
  if (hasIntegrityMarker(text)) add(INTEGRITY);
  if (text.includes('-----BEGIN')) add(PUBLIC_PEM);
  if (text.includes(' AAAA')) add(SSH_PUBLIC);
  return spans;
}

/** True when `[start, end)` lies inside one of `spans`. */
export function insideAny(spans: readonly Span[], start: number, end: number): boolean {
  for (const s of spans) if (start >= s.start && end <= s.end) return true;
  return false;
}

/** The inline marker that suppresses findings on its line. */
export const INLINE_ALLOW = 'keyturn:allow';
