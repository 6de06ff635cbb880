/**
 * Signed checkpoints of the audit log's Merkle tree, in the C2SP formats that transparency-log
 * tooling and witnesses read:
 *
 * - **signed-note** (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then
 *   one or more lines `— <key name> <base64(4-byte key ID || signature)>`. Ed25519 (signature type
 *   0x01) signs the text; the key ID is the first 4 bytes of
 *   `SHA-256(key name || 0x0A || 0x01 || public key)`. Verifier keys are written
 *   `<name>+<hex key ID>+<base64(0x01 || public key)>`.
 * - **tlog-checkpoint** (c2sp.org/tlog-checkpoint): the note text is
 *   `<origin>\n<tree size>\n<base64 root hash>\n[extension lines\n]`.
 *
 * Verification is a result, not an exception: a forged, unknown or malformed checkpoint is an
 * expected answer for a verifier. Signatures by unknown keys are ignored (that is how witnesses
 * cosign and keys rotate), at least one known key must sign, and a known key whose signature does
 * not verify rejects the whole note, as the spec asks.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { KeyturnError } from '../core/errors.js';
import { HASH_SIZE } from './merkle.js';

/** Signature type byte of Ed25519 in signed-note. */
const ED25519_TYPE = 0x01;
/** Most signature lines read from one note (the spec asks for at least 16). */
export const MAX_NOTE_SIGNATURES = 100;

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SIGNATURE_PREFIX = '\u2014 ';
/** Unicode spaces (Go's unicode.IsSpace) and `+`, which key names must not contain. */
const NAME_FORBIDDEN = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000+]/u;
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000B-\u001F]/u;
const LONE_SURROGATE = /\p{Cs}/u;

/** Something that signs note texts under a key name. */
export interface NoteSigner {
  readonly name: string;
  /** The 32-bit key ID, big-endian as in the signature. */
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** Something that verifies signatures by one key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** base64 of key ID and signature, as on the line. */
  readonly base64: string;
}

/** Why a note or checkpoint was rejected. */
export type NoteRejection =
  /** Not a well-formed signed note (or checkpoint body). */
  | 'malformed'
  /** No signature by a known key. */
  | 'unverified'
  /** A known key's signature does not verify: forged or altered. */
  | 'invalid_signature'
  /** Two configured verifiers share a name and key ID. */
  | 'ambiguous_key'
  /** A valid checkpoint, but of another log. */
  | 'wrong_origin';

/** The result of opening a signed note. */
export type OpenedNote =
  | {
      readonly ok: true;
      readonly text: string;
      readonly signatures: readonly NoteSignature[];
      readonly unverified: readonly NoteSignature[];
    }
  | { readonly ok: false; readonly reason: NoteRejection; readonly detail: string };

/** True when `name` can be a signed-note key name: non-empty, no Unicode space, no `+`. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !NAME_FORBIDDEN.test(name) && !LONE_SURROGATE.test(name);
}

function assertKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new KeyturnError('ERR_VALIDATION', 'a note key name must be non-empty, without spaces or "+"', {
      details: { name },
    });
  }
}

/** Decodes canonical standard base64 (RFC 4648 §4) only; undefined otherwise. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : undefined;
}

/**
 * The signed-note key ID of an Ed25519 key: the first 4 bytes, big-endian, of
 * `SHA-256(name || 0x0A || 0x01 || publicKey)`.
 */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  const digest = createHash('sha256').update(name, 'utf8').update(Uint8Array.of(0x0a, ED25519_TYPE)).update(publicKey).digest();
  return digest.readUInt32BE(0);
}

function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * An Ed25519 note signer from a 32-byte seed (RFC 8032 private key) or a node:crypto key.
 *
 * @example
 * ```ts
 * const signer = ed25519Signer('keyturn.example/audit', seed);
 * const vkey = verifierKeyOf(signer.name, signer.publicKey); // hand this to verifiers and witnesses
 * ```
 */
export function ed25519Signer(name: string, key: Uint8Array | KeyObject): NoteSigner & { readonly publicKey: Uint8Array } {
  assertKeyName(name);
  let privateKey: KeyObject;
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new KeyturnError('ERR_VALIDATION', 'an Ed25519 seed is 32 bytes');
    privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key]), format: 'der', type: 'pkcs8' });
  } else {
    privateKey = key;
  }
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyturnError('ERR_VALIDATION', 'a checkpoint signing key must be an Ed25519 private key');
  }
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return {
    name,
    keyId: ed25519KeyId(name, publicKey),
    publicKey,
    sign: (text) => new Uint8Array(sign(null, text, privateKey)),
  };
}

/**
 * The verifier key text `<name>+<hex key ID>+<base64(0x01 || publicKey)>` for an Ed25519 key.
 *
 * @example
 * ```ts
 * verifierKeyOf('example.com/foo', publicKey); // 'example.com/foo+530d903a+Aeky…'
 * ```
 */
export function verifierKeyOf(name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  if (publicKey.length !== 32) throw new KeyturnError('ERR_VALIDATION', 'an Ed25519 public key is 32 bytes');
  const encoded = Buffer.concat([Uint8Array.of(ED25519_TYPE), publicKey]).toString('base64');
  return `${name}+${hex8(ed25519KeyId(name, publicKey))}+${encoded}`;
}

/** Splits at the first `count - 1` plus signs; the last part keeps any further ones. */
function splitPlus<N extends 3 | 5>(text: string, count: N): (N extends 3 ? [string, string, string] : [string, string, string, string, string]) | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 1; i < count; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts as N extends 3 ? [string, string, string] : [string, string, string, string, string];
}

/**
 * Parses a verifier key (`<name>+<hex key ID>+<base64(0x01 || key)>`) into a verifier; throws
 * `ERR_VALIDATION` when it is malformed, not Ed25519, or its key ID does not match its key.
 *
 * @example
 * ```ts
 * const v = parseVerifierKey('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
 * ```
 */
export function parseVerifierKey(vkey: string): NoteVerifier & { readonly publicKey: Uint8Array } {
  const bad = (why: string): KeyturnError => new KeyturnError('ERR_VALIDATION', `invalid verifier key: ${why}`);
  // The name and the key ID never contain '+'; the base64 key may.
  const parts = splitPlus(vkey, 3);
  if (parts === undefined) throw bad('expected <name>+<hex key ID>+<base64 key>');
  const [name, idHex, encoded] = parts;
  if (!isValidKeyName(name)) throw bad('invalid key name');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad('the key ID is not 8 lowercase hex digits');
  const key = decodeBase64(encoded);
  if (key === undefined || key.length === 0) throw bad('the key is not base64');
  if (key[0] !== ED25519_TYPE) throw bad('unsupported signature type');
  if (key.length !== 33) throw bad('an Ed25519 key is 32 bytes');
  const publicKey = key.subarray(1);
  const keyId = Number.parseInt(idHex, 16);
  if (ed25519KeyId(name, publicKey) !== keyId) throw bad('the key ID does not match the key');
  const keyObject = publicKeyObject(publicKey);
  return {
    name,
    keyId,
    publicKey,
    verify: (text, signature) => signature.length === 64 && verify(null, text, keyObject, signature),
  };
}

/**
 * Parses a signer key in the golang.org/x/mod/sumdb/note text form,
 * `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`, and formats one with
 * {@link signerKeyOf}. Throws `ERR_VALIDATION` when malformed. The text is a secret.
 */
export function parseSignerKey(skey: string): NoteSigner & { readonly publicKey: Uint8Array } {
  const bad = (why: string): KeyturnError => new KeyturnError('ERR_VALIDATION', `invalid signer key: ${why}`);
  const parts = splitPlus(skey, 5);
  if (parts === undefined || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') {
    throw bad('expected PRIVATE+KEY+<name>+<hex key ID>+<base64 key>');
  }
  const [, , name, idHex, encoded] = parts;
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) throw bad('invalid name or key ID');
  const key = decodeBase64(encoded);
  if (key === undefined || key.length !== 33 || key[0] !== ED25519_TYPE) throw bad('not an Ed25519 seed');
  const signer = ed25519Signer(name, key.subarray(1));
  if (signer.keyId !== Number.parseInt(idHex, 16)) throw bad('the key ID does not match the key');
  return signer;
}

/** The text form of an Ed25519 signer key (a secret: store it like one). */
export function signerKeyOf(name: string, seed: Uint8Array): string {
  const signer = ed25519Signer(name, seed);
  const encoded = Buffer.concat([Uint8Array.of(ED25519_TYPE), seed]).toString('base64');
  return `PRIVATE+KEY+${name}+${hex8(signer.keyId)}+${encoded}`;
}

/** Checks the characters of a note: no lone surrogates, no control characters but newline. */
function wellFormedText(text: string): boolean {
  return !CONTROL_EXCEPT_NEWLINE.test(text) && !LONE_SURROGATE.test(text);
}

/**
 * Signs a note text (which must end in a newline) and returns the signed note. Signatures in
 * `existing` (for example a witness's cosignature) are kept, except those of the same keys.
 *
 * @example
 * ```ts
 * const note = signNote('hello\n', [signer]); // 'hello\n\n— name base64…\n'
 * ```
 */
export function signNote(text: string, signers: readonly NoteSigner[], existing: readonly NoteSignature[] = []): string {
  if (!text.endsWith('\n') || !wellFormedText(text) || signers.length === 0) {
    throw new KeyturnError('ERR_VALIDATION', 'a note text must end in a newline, without control characters');
  }
  const bytes = new TextEncoder().encode(text);
  const lines: string[] = [];
  const fresh = new Set(signers.map((s) => `${s.name}+${s.keyId}`));
  for (const sig of existing) {
    if (!isValidKeyName(sig.name) || decodeBase64(sig.base64) === undefined) {
      throw new KeyturnError('ERR_VALIDATION', 'an existing signature is malformed');
    }
    if (!fresh.has(`${sig.name}+${sig.keyId}`)) lines.push(`${SIGNATURE_PREFIX}${sig.name} ${sig.base64}\n`);
  }
  for (const signer of signers) {
    assertKeyName(signer.name);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(signer.keyId >>> 0);
    const signature = Buffer.concat([id, signer.sign(bytes)]).toString('base64');
    lines.push(`${SIGNATURE_PREFIX}${signer.name} ${signature}\n`);
  }
  return `${text}\n${lines.join('')}`;
}

function rejected(reason: NoteRejection, detail: string): OpenedNote {
  return { ok: false, reason, detail };
}

/**
 * Opens a signed note (c2sp.org/signed-note): checks its form, verifies every signature by a
 * known key, and lists the others as unverified. Accepts the note as text or as raw bytes (which
 * must be valid UTF-8).
 *
 * @example
 * ```ts
 * const opened = openNote(message, [parseVerifierKey(vkey)]);
 * if (!opened.ok) console.error(opened.reason);
 * ```
 */
export function openNote(message: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  let note: string;
  if (typeof message === 'string') {
    note = message;
  } else {
    try {
      note = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(message);
    } catch {
      return rejected('malformed', 'the note is not valid UTF-8');
    }
  }
  if (!wellFormedText(note)) return rejected('malformed', 'the note contains control characters or invalid UTF-8');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return rejected('malformed', 'no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) return rejected('malformed', 'the signature block must end in a newline');

  const signatures: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  const textBytes = new TextEncoder().encode(text);
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return rejected('malformed', `more than ${MAX_NOTE_SIGNATURES} signatures`);
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) return rejected('malformed', 'a signature line must start with "— "');
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? '' : rest.slice(space + 1);
    const raw = decodeBase64(encoded);
    if (!isValidKeyName(name) || encoded === '' || raw === undefined || raw.length < 5) {
      return rejected('malformed', 'a signature line is malformed');
    }
    const keyId = Buffer.from(raw.subarray(0, 4)).readUInt32BE(0);
    const entry: NoteSignature = { name, keyId, base64: encoded };
    const matches = verifiers.filter((v) => v.name === name && v.keyId >>> 0 === keyId);
    if (matches.length === 0) {
      if (!seenUnverified.has(line)) {
        seenUnverified.add(line);
        unverified.push(entry);
      }
      continue;
    }
    if (matches.length > 1) return rejected('ambiguous_key', `ambiguous key ${name}+${hex8(keyId)}`);
    const id = `${name}+${keyId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!(matches[0] as NoteVerifier).verify(textBytes, raw.subarray(4))) {
      return rejected('invalid_signature', `invalid signature for key ${name}+${hex8(keyId)}`);
    }
    signatures.push(entry);
  }
  if (signatures.length === 0) return rejected('unverified', 'note has no verifiable signatures');
  return { ok: true, text, signatures, unverified };
}

/** A tree head: the log's origin, its size and root hash, and optional extension lines. */
export interface Checkpoint {
  /** The log's identity, e.g. `keyturn.example/audit`. */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** RFC 9162 root hash of the first `size` leaves (32 bytes). */
  readonly root: Uint8Array;
  /** Opaque extension lines (non-empty, no newline). */
  readonly extensions: readonly string[];
}

/**
 * The checkpoint body: `<origin>\n<size>\n<base64 root>\n` then one line per extension.
 *
 * @example
 * ```ts
 * formatCheckpoint({ origin: 'keyturn.example/audit', size: 3, root, extensions: [] });
 * ```
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root, extensions } = checkpoint;
  const invalidLine = (line: string): boolean => line === '' || line.includes('\n') || !wellFormedText(line);
  if (invalidLine(origin)) throw new KeyturnError('ERR_VALIDATION', 'a checkpoint origin is one non-empty line');
  if (!Number.isSafeInteger(size) || size < 0) throw new KeyturnError('ERR_VALIDATION', 'a tree size is a non-negative integer');
  if (root.length !== HASH_SIZE) throw new KeyturnError('ERR_VALIDATION', 'a root hash is 32 bytes');
  if (extensions.some(invalidLine)) throw new KeyturnError('ERR_VALIDATION', 'an extension line is non-empty, one line');
  const lines = [origin, String(size), Buffer.from(root).toString('base64'), ...extensions];
  return `${lines.join('\n')}\n`;
}

/**
 * Parses a checkpoint body (the note text). Undefined when it is not a checkpoint: fewer than
 * three lines, an empty line, a size with leading zeros or beyond 2^53, or a root that is not
 * the base64 of 32 bytes.
 */
export function parseCheckpoint(text: string): Checkpoint | undefined {
  if (!text.endsWith('\n')) return undefined;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l === '')) return undefined;
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) return undefined;
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return undefined;
  const root = decodeBase64(rootText);
  if (root === undefined || root.length !== HASH_SIZE) return undefined;
  return { origin, size, root, extensions };
}

/**
 * Signs a checkpoint: the signed note whose text is {@link formatCheckpoint}'s body.
 *
 * @example
 * ```ts
 * const note = signCheckpoint({ origin, size: acc.size, root: acc.root(), extensions: [] }, [signer]);
 * ```
 */
export function signCheckpoint(checkpoint: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(checkpoint), signers);
}

/** The result of verifying a signed checkpoint. */
export type VerifiedCheckpoint =
  | {
      readonly ok: true;
      readonly checkpoint: Checkpoint;
      readonly signatures: readonly NoteSignature[];
      readonly unverified: readonly NoteSignature[];
    }
  | { readonly ok: false; readonly reason: NoteRejection; readonly detail: string };

/**
 * Verifies a signed checkpoint of the log named `origin`: a well-formed note signed by at least
 * one of `verifiers` (unknown signatures, such as witness cosignatures, are listed apart), whose
 * body is a checkpoint with exactly that origin.
 *
 * @example
 * ```ts
 * const result = verifyCheckpoint(note, { origin: 'keyturn.example/audit', verifiers: [parseVerifierKey(vkey)] });
 * if (result.ok) verifyConsistency(trusted.size, result.checkpoint.size, trusted.root, result.checkpoint.root, proof);
 * ```
 */
export function verifyCheckpoint(
  note: string | Uint8Array,
  options: { readonly origin: string; readonly verifiers: readonly NoteVerifier[] },
): VerifiedCheckpoint {
  const opened = openNote(note, options.verifiers);
  if (!opened.ok) return opened;
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint === undefined) return { ok: false, reason: 'malformed', detail: 'the note text is not a checkpoint' };
  if (checkpoint.origin !== options.origin) {
    return { ok: false, reason: 'wrong_origin', detail: `checkpoint of ${JSON.stringify(checkpoint.origin)}` };
  }
  return { ok: true, checkpoint, signatures: opened.signatures, unverified: opened.unverified };
}

const TIME_PREFIX = 'time ';

/**
 * The extension line keyturn uses to sign a checkpoint's time: `time <RFC 3339 UTC, ms>`. C2SP
 * leaves extension lines opaque (and witnesses' cosignatures do not cover them), so the time is
 * signed by the log key only; the tree size and root remain the witnessed part.
 *
 * @example
 * ```ts
 * signCheckpoint({ origin, size, root, extensions: [timeExtension(ctx.now())] }, [signer]);
 * ```
 */
export function timeExtension(time: Date): string {
  if (Number.isNaN(time.getTime())) throw new KeyturnError('ERR_VALIDATION', 'invalid checkpoint time');
  return `${TIME_PREFIX}${time.toISOString()}`;
}

/** The time signed in a checkpoint's `time` extension line, if it has exactly one valid one. */
export function checkpointTime(checkpoint: Checkpoint): Date | undefined {
  const lines = checkpoint.extensions.filter((l) => l.startsWith(TIME_PREFIX));
  if (lines.length !== 1) return undefined;
  const text = (lines[0] as string).slice(TIME_PREFIX.length);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text)) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) || time.toISOString() !== text ? undefined : time;
}
