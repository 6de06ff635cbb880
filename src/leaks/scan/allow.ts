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

/**
 * True for values that stand in for a secret rather than being one. A UUID is one too (an
 * identifier), except where a rule knows the provider's keys are UUIDs: see
 * {@link isPlaceholderText}.
 */
export function isPlaceholder(value: string): boolean {
  return isPlaceholderText(value) || UUID.test(value);
}

/** {@link isPlaceholder} without its UUID clause: words, markers and templates that stand in for a secret. */
export function isPlaceholderText(value: string): boolean {
  const lower = value.toLowerCase();
  for (const part of PLACEHOLDER_PARTS) if (lower.includes(part.toLowerCase())) return true;
  if (/^<[^>]*>$/.test(value) || (value.includes('<') && value.includes('>'))) return true;
  if (/^(.)\1+$/.test(value) || /(.)\1{5,}/.test(value)) return true;
  if (/^\$[A-Za-z_{(]/.test(value) || /^%[A-Za-z_]+%$/.test(value)) return true;
  // "…TokenHere" and values elided with "...".
  return /(?:token|key|string|secret|password|value)here/i.test(value) || value.endsWith('...');
}

/** A half-open span `[start, end)` of a text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

const DATA_URI = /data:[A-Za-z0-9.+/-]+(?:;[A-Za-z0-9=.-]+)*;base64,[A-Za-z0-9+/=\s\\]+/g;
const PUBLIC_PEM = /-----BEGIN (?:CERTIFICATE|TRUSTED CERTIFICATE|X509 CRL|CERTIFICATE REQUEST|NEW CERTIFICATE REQUEST|(?:RSA |EC |SSH2 |PGP )?PUBLIC KEY(?: BLOCK)?)-----[\s\S]{0,40000}?-----END [A-Z0-9 ]+-----/g;
const SSH_PUBLIC = /\b(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) AAAA[A-Za-z0-9+/]+={0,2}/g;

/**
 * True when `text` holds `head + tail`. The search runs on `tail`, chosen to start with a rare
 * character (`BEGIN`, `AAAA`, `:allow`): a string search for a rare first character skips far
 * faster than one for a common one (`-`, space, `k`).
 */
function holds(text: string, head: string, tail: string): boolean {
  for (let i = text.indexOf(tail, head.length); i !== -1; i = text.indexOf(tail, i + 1)) {
    if (text.startsWith(head, i - head.length)) return true;
  }
  return false;
}

/** Characters of an SRI digest's base64 body. */
function isDigestChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
}

const DIGEST_PREFIXES = ['sha1-', 'sha256-', 'sha384-', 'sha512-'];
/** Base64 characters of the longest digest (SHA-512: 88) with room to spare. */
const MAX_DIGEST_CHARS = 128;

/**
 * True when `[start, end)` lies inside a lockfile or SRI `integrity` value
 * (`sha512-<base64>`). Checked at the span rather than over the whole text: the digest's body
 * is bounded, so this costs a few characters per candidate.
 */
function insideDigest(text: string, start: number, end: number): boolean {
  let from = start;
  while (from > 0 && start - from <= MAX_DIGEST_CHARS && isDigestChar(text.charCodeAt(from - 1))) from--;
  if (!DIGEST_PREFIXES.some((p) => text.startsWith(p, from - p.length))) return false;
  let to = from;
  while (to < text.length && to - from <= MAX_DIGEST_CHARS && isDigestChar(text.charCodeAt(to))) to++;
  if (to - from < 20) return false;
  for (let pad = 0; pad < 2 && text.charCodeAt(to) === 0x3d; pad++) to++;
  return end <= to;
}

/** Regions of `text` that only hold public data; cheap literal checks first. */
export function publicRegions(text: string): Span[] {
  const spans: Span[] = [];
  const add = (re: RegExp): void => {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) spans.push({ start: m.index, end: m.index + m[0].length });
  };
  // `;b` first: two characters are searched much faster than the eight of `;base64,`.
  if (text.includes(';b') && text.includes(';base64,')) add(DATA_URI);
  if (holds(text, '-----', 'BEGIN')) add(PUBLIC_PEM);
  if (holds(text, ' ', 'AAAA')) add(SSH_PUBLIC);
  return spans;
}

/** True when `[start, end)` lies inside one of `spans` or inside an integrity digest. */
export function insidePublic(text: string, spans: readonly Span[], start: number, end: number): boolean {
  for (const s of spans) if (start >= s.start && end <= s.end) return true;
  return insideDigest(text, start, end);
}

/** The inline marker that suppresses findings on its line. */
export const INLINE_ALLOW = 'keyturn:allow';

/** True when `text` holds {@link INLINE_ALLOW} anywhere (searched from its rarer `:` half). */
export function hasInlineAllow(text: string): boolean {
  return holds(text, 'keyturn', ':allow');
}
