import { crc32 } from 'node:zlib';
import { encodeBase62 } from '../../core/base62.js';
import { tryParseSecret } from '../../core/secret.js';
import { isPlaceholderText } from './allow.js';
import type { ValidatorName } from './types.js';

/**
 * Checks run after a rule's regex matched, by name (rules are data; these are the code they
 * may call). Each returns the normalised secret to report, or `undefined` to drop the match.
 * `text` and `index` (where the whole match starts) let a check read the match's context, such
 * as the name a value is assigned to.
 */
export type Validator = (secret: string, text: string, index: number) => string | undefined;

/** Per-code-unit counts, reset after each use (scratch for {@link shannonEntropy}). */
const entropyCounts = new Uint32Array(65536);
/** Distinct code units of the current text, in order of first occurrence. */
let entropyOrder = new Uint16Array(256);

/** Shannon entropy of `text` in bits per character. */
export function shannonEntropy(text: string): number {
  const length = text.length;
  if (length === 0) return 0;
  if (entropyOrder.length < length) entropyOrder = new Uint16Array(length);
  let distinct = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    const seen = entropyCounts[c] ?? 0;
    entropyCounts[c] = seen + 1;
    if (seen === 0) entropyOrder[distinct++] = c;
  }
  // Summed in first-occurrence order, exactly as a Map of counts would be iterated.
  let bits = 0;
  for (let k = 0; k < distinct; k++) {
    const c = entropyOrder[k] ?? 0;
    const p = (entropyCounts[c] ?? 0) / length;
    entropyCounts[c] = 0;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A keyturn secret only when its CRC-32 check is right. */
function keyturn(secret: string): string | undefined {
  return tryParseSecret(secret) ? secret : undefined;
}

/** GitHub classic token: the last 6 characters are the base62 CRC-32 of the 30 before them. */
export function githubClassicChecksumOk(token: string): boolean {
  const body = token.slice(4, 34);
  const check = token.slice(34);
  return body.length === 30 && check.length === 6 && encodeBase62(crc32(body), 6) === check;
}

function githubClassic(secret: string): string | undefined {
  return githubClassicChecksumOk(secret) ? secret : undefined;
}

function decodeJsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A signed JWS: JSON header with a real `alg`, JSON payload. */
function jwt(secret: string): string | undefined {
  const [header, payload] = secret.split('.');
  if (header === undefined || payload === undefined) return undefined;
  const h = decodeJsonPart(header);
  if (!h || typeof h.alg !== 'string' || h.alg.toLowerCase() === 'none') return undefined;
  return decodeJsonPart(payload) ? secret : undefined;
}

/**
 * A private key body: drop string-literal and YAML/JSON wrapping (`\n` escapes, quotes, `+`,
 * indentation) and RFC 1421 headers, then require at least 64 base64 characters and nothing else.
 */
export function normalisePemBody(raw: string): string | undefined {
  const unwrapped = raw
    .replace(/\\[nrt]/g, '\n')
    .replace(/["'`]\s*\+?\s*["'`]/g, '')
    .replace(/^[ \t]*["'`]?[A-Za-z-]+:[^\n]*$/gm, '')
    .replace(/["'`\s]/g, '');
  if (unwrapped.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(unwrapped)) return undefined;
  return shannonEntropy(unwrapped) >= 4.5 ? unwrapped : undefined;
}

const HEX_HASH = /^(?:[a-f0-9]{32}|[a-f0-9]{40}|[a-f0-9]{56}|[a-f0-9]{64}|[a-f0-9]{96}|[a-f0-9]{128}|[A-F0-9]{32}|[A-F0-9]{40}|[A-F0-9]{64})$/;
const REFERENCE = /^(?:[A-Za-z_$][A-Za-z_$]*\d*)(?:(?:\.|::|->)[A-Za-z_$][A-Za-z_$]*\d*)+$|^(?:process\.env|os\.environ|env\.|ENV\[|getenv|System\.getenv)|^(?:true|false|null|none|undefined)$/i;
/** A file path or route (`/etc/app/key`, `./certs/dev.pem`, `api/v1/token`): words joined by slashes. */
const PATH = /^(?:~|\.{1,2})?\/?(?:[\w.@~-]+\/)+[\w.@~-]*$/;
/** An environment variable name standing for the value. */
/** `urn:<NID>:<NSS>` (RFC 8141): a namespace identifier of 2-32 letters, digits and hyphens. */
const URN = /^urn:[a-z0-9][a-z0-9-]{1,31}:[\w()+,.:=@;$!*'%/?#-]+$/i;
const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
/** Shapes owned by provider rules: they decide (a look-alike with a wrong checksum stays unreported). */
const PROVIDER_SHAPE = /^(?:gh[pousr]_|github_pat_|npm_|AGE-SECRET-KEY-|[sprk]k_(?:live|test)_|xox[a-z]-|xapp-|AKIA|ASIA|AIza|eyJ|-----BEGIN|[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{49}$|[a-z][a-z0-9+]*:\/\/)/;

/** Character classes present: lower, upper, digit, other. */
function classCount(text: string): number {
  return Number(/[a-z]/.test(text)) + Number(/[A-Z]/.test(text)) + Number(/[0-9]/.test(text)) + Number(/[^A-Za-z0-9]/.test(text));
}

const HEX = /^(?:[0-9a-f]{32,128}|[0-9A-F]{32,128})$/;
/**
 * Entropy floors of a generic value, bits per character: hex has 16 symbols, so a random
 * 32-character hex key is below the general floor one time in sixty; 3.0 keeps all but one in
 * a million while trivial hex is dropped by its shape.
 */
const GENERIC_ENTROPY = 3.3;
const HEX_ENTROPY = 3.0;
/** Name components that say a value is a digest or an identifier, not a secret. */
const DIGEST_WORDS = new Set([
  'sha', 'md5', 'hash', 'hashed', 'digest', 'checksum', 'integrity', 'etag', 'commit', 'revision', 'rev', 'fingerprint',
  'csrf', 'xsrf', 'nonce', 'salt', 'public', 'publishable', 'cursor', 'page', 'next', 'continuation', 'idempotency',
]);
/** Last name components that make a name a secret's: `*_SECRET`, `*Token`, `*_API_KEY`, `SECRET_KEY_BASE`. */
const SECRET_LAST = new Set(['secret', 'secrets', 'token', 'tokens', 'password', 'passwd', 'pwd', 'apikey', 'apikeys', 'accesskey', 'authkey', 'secretkey', 'privatekey']);
const SECRET_KEY_QUALIFIERS = new Set(['api', 'access', 'auth', 'secret', 'private']);

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x24;
}

/** The identifier around `index` (a run of letters, digits, `_`, `-`, `.`, `$`), split into lower-case words (`partnerApiKey` → partner, api, key). */
export function nameWordsAt(text: string, index: number): string[] {
  let start = index;
  while (start > 0 && index - start < 100 && isNameChar(text.charCodeAt(start - 1))) start--;
  let end = index;
  while (end < text.length && end - index < 100 && isNameChar(text.charCodeAt(end))) end++;
  return text
    .slice(start, end)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/** True when a word of the name speaks of a digest or an identifier (`commit`, `sha256`, `checksum`, `etag`, `nonce`, …). */
export function namesDigest(words: readonly string[]): boolean {
  return words.some((w) => DIGEST_WORDS.has(w) || /^(?:sha|md)\d+$/.test(w));
}

/**
 * True when the name is a secret's by its last words (`X_API_SECRET`, `partnerApiKey`,
 * `APP_SECRET`, `SECRET_KEY_BASE`) and none of its words speaks of a digest or an identifier
 * (`commit`, `sha256`, `checksum`, `integrity`, `etag`, `fingerprint`, …).
 */
export function namesSecret(words: readonly string[]): boolean {
  if (namesDigest(words)) return false;
  const last = words.at(-1) ?? '';
  const before = words.at(-2) ?? '';
  if (SECRET_LAST.has(last)) return true;
  if (last === 'key') return SECRET_KEY_QUALIFIERS.has(before);
  return last === 'base' && before === 'key' && words.at(-3) === 'secret';
}

/** Words that make a secret-sounding name public by design (`NEXT_PUBLIC_API_KEY`, `publicToken`, `csrf_token`). */
const PUBLIC_WORDS = new Set(['public', 'publishable', 'csrf', 'xsrf']);
/** Last words that make the value something about a secret rather than the secret (`SECRET_NAME`, `token_path`, `api_key_id`). */
const ABOUT_LAST = new Set([
  'name', 'names', 'id', 'ids', 'path', 'file', 'filename', 'dir', 'url', 'uri', 'type', 'header', 'field', 'param', 'label',
  'length', 'len', 'count', 'size', 'ttl', 'timeout', 'expiry', 'expires', 'prefix', 'suffix', 'format', 'version',
]);

/** True when the name says its value is public by design, or is about a secret (its name, path, id…) rather than one. */
export function namesNonSecret(words: readonly string[]): boolean {
  return words.some((w) => PUBLIC_WORDS.has(w)) || ABOUT_LAST.has(words.at(-1) ?? '');
}

/** Hex that only looks random: one short unit repeated, or runs of consecutive digits. */
function trivialHex(hex: string): boolean {
  const lower = hex.toLowerCase();
  for (let unit = 1; unit <= 16; unit++) if (lower.slice(unit) === lower.slice(0, -unit)) return true;
  return lower.includes('0123456') || lower.includes('abcdef0') || lower.includes('fedcba');
}

/**
 * A generic assignment's value must look random, not like a reference, hash or provider token.
 * A hexadecimal value is a digest unless the name it is assigned to says it is a secret
 * ({@link namesSecret}): hex is the shape of many real keys (Datadog, Mailgun, in-house keys)
 * and of every hash, so the name decides.
 */
function generic(secret: string, text?: string, index?: number): string | undefined {
  const words = text === undefined || index === undefined ? undefined : nameWordsAt(text, index);
  if (words !== undefined && namesNonSecret(words)) return undefined;
  if (HEX.test(secret)) {
    if (words === undefined || trivialHex(secret) || !namesSecret(words)) return undefined;
    return shannonEntropy(secret) >= HEX_ENTROPY ? secret : undefined;
  }
  if (shannonEntropy(secret) < GENERIC_ENTROPY) return undefined;
  if (HEX_HASH.test(secret) || REFERENCE.test(secret) || ENV_NAME.test(secret) || PROVIDER_SHAPE.test(secret)) return undefined;
  // Counting runs ("0123456", "abcdefgh") are typed by hand, not drawn at random.
  if (/0123456|123456789|abcdefgh/i.test(secret)) return undefined;
  if (/^(?:sha\d+|md5)[:-]/i.test(secret) || /^[a-z]+(?:[-_][a-z]+)+$/.test(secret) || /^\d+$/.test(secret)) return undefined;
  // A URN (RFC 8141: `urn:<NID>:<NSS>`) names a thing, such as a token type in RFC 8693
  // (`urn:ietf:params:oauth:token-type:saml2`), and is never a secret.
  if (URN.test(secret)) return undefined;
  if (/^(?:https?|file|ftp):\/\//i.test(secret) || (PATH.test(secret) && !/[A-Za-z0-9+]{12}/.test(secret))) return undefined;
  return classCount(secret) >= 3 || (classCount(secret) === 2 && /[0-9]/.test(secret) && secret.length >= 16) ? secret : undefined;
}

/** Between a name and its value: quotes, brackets, blanks and an assignment operator (`" = '`, `: `, ` - `, `=>`, `:=`). */
function isBetweenNameAndValue(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x22 || c === 0x27 || c === 0x60 || c === 0x5d || c === 0x29 || c === 0x3d || c === 0x3a || c === 0x3e || c === 0x2c || c === 0x2d || c === 0x3f;
}

/**
 * The words of the name a value at `at` is assigned to on its own line (`TWILIO_TOKEN_SHA = "…"` →
 * twilio, token, sha); none for a value standing alone or after a word that is not its name.
 */
export function nameBefore(text: string, at: number): string[] {
  let i = at;
  while (i > 0 && at - i < 12 && isBetweenNameAndValue(text.charCodeAt(i - 1))) i--;
  if (i === at || i === 0 || !isNameChar(text.charCodeAt(i - 1))) return [];
  return nameWordsAt(text, i - 1);
}

/** How far before a match a pair rule's value may stand (its gap, at most 300, and the value). */
const PAIR_REACH = 400;

/**
 * A provider's value without a prefix of its own, recognised by what stands beside it — the
 * provider's name, or the identifier it pairs with (a Twilio account SID, an Alibaba AccessKey
 * ID, an Okta org's domain): the name it is assigned to, if it has one, must not say that it is a
 * digest or something about a secret rather than one (`TWILIO_TOKEN_SHA`, `checksum`, `etag`,
 * `request_id`, `token_url`, `publicKey`), and hexadecimal must not be trivial (one unit
 * repeated, a counting run). The rule's regex already placed the value beside the provider.
 */
function providerValue(secret: string, text?: string, index?: number): string | undefined {
  // Hex, also in groups (`…-5eeb6406-757a4247`, a UUID), must not be trivial.
  if (/^[0-9a-f][0-9a-f-]*$/i.test(secret) && trivialHex(secret.replace(/-/g, ''))) return undefined;
  if (text === undefined || index === undefined) return secret;
  // The match starts at the provider's name or at the identifier the value pairs with; a value
  // before that identifier (captured in a look-behind) is at most a pair's gap before it.
  const at = text.indexOf(secret, Math.max(0, index - PAIR_REACH));
  if (at === -1) return secret;
  const words = nameBefore(text, at);
  return words.length > 0 && (namesDigest(words) || namesNonSecret(words)) ? undefined : secret;
}

/**
 * A provider's key that is a UUID (Heroku's and npm's legacy API keys): {@link providerValue}'s
 * checks, and the placeholder checks except the one that takes every UUID for an identifier — the
 * rule has already placed this one where a key of that provider is written. Trivial UUIDs (the
 * nil UUID, a digit repeated) are placeholders all the same.
 */
function providerUuid(secret: string, text?: string, index?: number): string | undefined {
  if (isPlaceholderText(secret) || /^[0-]+$/.test(secret)) return undefined;
  return providerValue(secret, text, index);
}

/** AWS secret access keys are 40 base64 characters mixing cases and digits. */
function awsSecret(secret: string): string | undefined {
  return /[a-z]/.test(secret) && /[A-Z]/.test(secret) && /[0-9]/.test(secret) ? secret : undefined;
}

/** A connection string password that is not a reference or a word. */
function connectionString(secret: string): string | undefined {
  let decoded = secret;
  try {
    decoded = decodeURIComponent(secret);
  } catch {
    /* keep as is */
  }
  if (ENV_NAME.test(decoded) || (/^[a-z]+$/i.test(decoded) && decoded.length < 12)) return undefined;
  return secret;
}

/**
 * A token in GitHub's format (also npm's): a 4-character prefix, 30 random base62 characters,
 * then their CRC-32 in 6 base62 characters. The CRC is taken over the 30 characters (GitHub)
 * or, as some npm implementations do, over the prefix and the 30 characters; either is
 * accepted, so a random look-alike passes one time in two billion.
 */
function crc32Base62(secret: string): string | undefined {
  if (secret.length !== 40) return undefined;
  const check = secret.slice(34);
  return encodeBase62(crc32(secret.slice(4, 34)), 6) === check || encodeBase62(crc32(secret.slice(0, 34)), 6) === check ? secret : undefined;
}

/**
 * A token that carries a base64 JSON object (`eyJ…`, i.e. `{"…`) after its prefix — Sentry
 * organisation tokens, Grafana Cloud tokens and legacy API keys, 1Password service accounts,
 * Mapbox secret tokens: the part from `eyJ` to the next `_` or `.` must decode to a JSON object.
 */
function embeddedJson(secret: string): string | undefined {
  const start = secret.indexOf('eyJ');
  if (start === -1) return undefined;
  let end = start;
  while (end < secret.length && secret[end] !== '_' && secret[end] !== '.') end++;
  const part = secret.slice(start, end).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  let decoded: string;
  try {
    decoded = Buffer.from(part, 'base64url').toString('utf8');
  } catch {
    return undefined;
  }
  // A token's payload may be cut short by a line wrap or a truncated copy: its start must be JSON.
  if (/^\{"[A-Za-z_]{1,40}":/.test(decoded)) return secret;
  return undefined;
}

/** A Discord bot token: its first part is the bot's user id (a decimal snowflake) in base64. */
function discordBot(secret: string): string | undefined {
  const first = secret.slice(0, secret.indexOf('.'));
  const id = Buffer.from(first, 'base64url').toString('latin1');
  return /^[0-9]{17,20}$/.test(id) ? secret : undefined;
}

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/** True when `text` (lower-case `hrp1data`) carries a valid Bech32 checksum (BIP 173). */
export function bech32ChecksumOk(text: string): boolean {
  const sep = text.lastIndexOf('1');
  if (sep < 1 || text.length - sep < 7) return false;
  const hrp = text.slice(0, sep);
  const values: number[] = [];
  for (const c of hrp) values.push(c.charCodeAt(0) >> 5);
  values.push(0);
  for (const c of hrp) values.push(c.charCodeAt(0) & 31);
  for (const c of text.slice(sep + 1)) {
    const v = BECH32_CHARSET.indexOf(c);
    if (v === -1) return false;
    values.push(v);
  }
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= BECH32_GENERATOR[i] ?? 0;
  }
  return chk === 1;
}

/** An age secret key: Bech32 (human-readable part `age-secret-key-`) with a valid checksum. */
function bech32(secret: string): string | undefined {
  return bech32ChecksumOk(secret.toLowerCase()) ? secret : undefined;
}

/** The table of validators by name. */
export const VALIDATOR_TABLE: Readonly<Record<ValidatorName, Validator>> = {
  keyturn,
  'github-classic': githubClassic,
  jwt,
  'private-key': normalisePemBody,
  generic,
  'aws-secret': awsSecret,
  'connection-string': connectionString,
  'crc32-base62': crc32Base62,
  'embedded-json': embeddedJson,
  'discord-bot': discordBot,
  bech32,
  'provider-value': providerValue,
  'provider-uuid': providerUuid,
};
