/**
 * Signed checkpoints (C2SP signed-note + tlog-checkpoint), checked against notes and keys that
 * others published: the examples of github.com/C2SP/C2SP (commit 5ba5ee83, signed-note.md and
 * tlog-checkpoint.md) and the tests of github.com/golang/mod (commit fe2ec04f, sumdb/note/note_test.go,
 * sumdb/client_test.go, sumdb/tlog/note_test.go), copied as data into
 * test/vectors/checkpoint/signed-notes.json.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkpointTime,
  ed25519KeyId,
  ed25519Signer,
  formatCheckpoint,
  openNote,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
  signerKeyOf,
  signNote,
  timeExtension,
  verifierKeyOf,
  verifyCheckpoint,
  type Checkpoint,
} from '../../src/audit/checkpoint.js';
import { leafHash, MerkleTree, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { KeyturnError } from '../../src/core/errors.js';

interface NoteVector {
  readonly source: string;
  readonly desc: string;
  readonly verifiers: string[];
  readonly message: string;
  readonly text?: string;
  readonly verified?: string[];
  readonly unverified?: string[];
  readonly error?: string;
  readonly checkpoint?: { origin: string; size: number; root: string };
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/checkpoint/signed-notes.json', import.meta.url), 'utf8')) as {
  sources: Record<string, { repository: string; commit: string }>;
  verifiers: { vkey: string; name: string; keyId: string }[];
  badVerifierKeys: { desc: string; vkey: string }[];
  signers: { skey: string; vkey: string; text: string; signed: string }[];
  notes: NoteVector[];
  malformedNotes: { text: string; peterSig: string; messages: string[] };
  tlogTree: { leafAscii: string; size: number; body: string };
};

describe('vectors published by C2SP and golang.org/x/mod', () => {
  it('name their sources', () => {
    expect(vectors.sources['c2sp']?.repository).toBe('https://github.com/C2SP/C2SP');
    expect(vectors.sources['golang-mod']?.repository).toBe('https://github.com/golang/mod');
  });

  it.each(vectors.verifiers.map((v) => [v.vkey, v] as const))('verifier key %s parses, key ID recomputed', (_k, v) => {
    const verifier = parseVerifierKey(v.vkey);
    expect(verifier.name).toBe(v.name);
    expect(verifier.keyId.toString(16).padStart(8, '0')).toBe(v.keyId);
    expect(ed25519KeyId(v.name, verifier.publicKey)).toBe(verifier.keyId);
    expect(verifierKeyOf(v.name, verifier.publicKey)).toBe(v.vkey);
  });

  it('rejects the bad verifier keys and every mangling of a good one (as note_test.go does)', () => {
    for (const bad of vectors.badVerifierKeys) expect(() => parseVerifierKey(bad.vkey), bad.desc).toThrow(KeyturnError);
    const vkey = (vectors.verifiers[1] as { vkey: string }).vkey;
    for (let i = 0; i <= vkey.length; i++) {
      for (let j = i + 1; j <= vkey.length; j++) {
        if (i !== 0 || j !== vkey.length) expect(() => parseVerifierKey(vkey.slice(i, j))).toThrow(KeyturnError);
      }
    }
    for (let i = 0; i < vkey.length; i++) {
      const mangled = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1);
      expect(() => parseVerifierKey(mangled), mangled).toThrow(KeyturnError);
    }
  });

  it('signs byte for byte like golang.org/x/mod/sumdb/note (Ed25519 is deterministic)', () => {
    for (const s of vectors.signers) {
      const signer = parseSignerKey(s.skey);
      expect(verifierKeyOf(signer.name, signer.publicKey)).toBe(s.vkey);
      expect(signNote(s.text, [signer])).toBe(s.signed);
      // Signing again replaces this key's old signature instead of repeating it.
      const opened = openNote(s.signed, [parseVerifierKey(s.vkey)]);
      expect(opened.ok).toBe(true);
      if (opened.ok) expect(signNote(s.text, [signer], opened.signatures)).toBe(s.signed);
    }
  });

  it.each(vectors.notes.map((n) => [n.desc, n] as const))('opens %s', (_d, n) => {
    const verifiers = n.verifiers.map((v) => parseVerifierKey(v));
    const opened = openNote(n.message, verifiers);
    if (n.error !== undefined) {
      expect(opened.ok).toBe(false);
      if (!opened.ok) expect(opened.reason).toBe(n.error);
    } else {
      expect(opened.ok, JSON.stringify(opened)).toBe(true);
      if (opened.ok) {
        expect(opened.text).toBe(n.text);
        expect(opened.signatures.map((s) => s.name)).toEqual(n.verified);
        expect(opened.unverified.map((s) => s.name)).toEqual(n.unverified);
      }
    }
    // Raw bytes open the same way as text.
    expect(openNote(new TextEncoder().encode(n.message), verifiers)).toEqual(opened);
    if (n.checkpoint !== undefined) {
      const body = n.message.slice(0, n.message.lastIndexOf('\n\n') + 1);
      const parsed = parseCheckpoint(body);
      expect(parsed?.origin).toBe(n.checkpoint.origin);
      expect(parsed?.size).toBe(n.checkpoint.size);
      expect(Buffer.from(parsed?.root ?? []).toString('base64')).toBe(n.checkpoint.root);
      expect(formatCheckpoint(parsed as Checkpoint)).toBe(body);
      const checked = verifyCheckpoint(n.message, { origin: n.checkpoint.origin, verifiers });
      expect(checked.ok).toBe(n.error === undefined);
      if (n.error === undefined) {
        expect(verifyCheckpoint(n.message, { origin: `${n.checkpoint.origin}x`, verifiers })).toMatchObject({
          ok: false,
          reason: 'wrong_origin',
        });
      }
    }
  });

  it('rejects the malformed notes of note_test.go', () => {
    const { text, peterSig, messages } = vectors.malformedNotes;
    const peter = parseVerifierKey((vectors.verifiers[1] as { vkey: string }).vkey);
    const expand = (m: string): string =>
      m.replaceAll('{text}', text).replaceAll('{peterSigWithoutNewline}', peterSig.slice(0, -1)).replaceAll('{peterSig}', peterSig);
    for (const m of messages) expect(openNote(expand(m), [peter])).toMatchObject({ ok: false, reason: 'malformed' });
    const invalidUtf8 = Buffer.concat([Buffer.of(0xff), Buffer.from(`${text}\n${peterSig}`)]);
    expect(openNote(invalidUtf8, [peter])).toMatchObject({ ok: false, reason: 'malformed' });
    expect(openNote(`${text}\n${peterSig.repeat(101)}`, [peter])).toMatchObject({ ok: false, reason: 'malformed' });
    // Repeated identical signatures count once.
    const twice = openNote(`${text}\n${peterSig}${peterSig}`, [peter]);
    expect(twice.ok && twice.signatures.length).toBe(1);
  });

  it('formats a tree head like sumdb/tlog (leaf hash = SHA-256(0x00 || record))', () => {
    const { leafAscii, size, body } = vectors.tlogTree;
    const checkpoint = { origin: 'go.sum database tree', size, root: leafHash(Buffer.from(leafAscii)), extensions: [] };
    expect(formatCheckpoint(checkpoint)).toBe(body);
  });
});

function freshSigner(name = 'keyturn.example/audit') {
  return ed25519Signer(name, new Uint8Array(randomBytes(32)));
}

function treeOf(count: number): MerkleTree {
  const tree = new MerkleTree();
  for (let i = 0; i < count; i++) tree.append(leafHash(Buffer.from(`record ${i}`)));
  return tree;
}

describe('keyturn checkpoints', () => {
  const origin = 'keyturn.example/audit';

  it('sign → verify round trip, with the time extension; a third party needs only the vkey', () => {
    const signer = freshSigner();
    const vkey = verifierKeyOf(signer.name, signer.publicKey);
    const tree = treeOf(7);
    const time = new Date('2026-12-04T16:05:08.123Z');
    const note = signCheckpoint({ origin, size: tree.size, root: tree.root(), extensions: [timeExtension(time)] }, [signer]);
    expect(note.split('\n').slice(0, 4)).toEqual([origin, '7', Buffer.from(tree.root()).toString('base64'), 'time 2026-12-04T16:05:08.123Z']);
    expect(note).toMatch(/\n\n\u2014 keyturn\.example\/audit [A-Za-z0-9+/]{91}=\n$/);
    const result = verifyCheckpoint(note, { origin, verifiers: [parseVerifierKey(vkey)] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.checkpoint.size).toBe(7);
    expect(Buffer.from(result.checkpoint.root).equals(tree.root())).toBe(true);
    expect(checkpointTime(result.checkpoint)?.toISOString()).toBe(time.toISOString());
    // What the checkpoint proves: record 3 is in it, and a later checkpoint extends it.
    expect(verifyInclusion(3, 7, leafHash(Buffer.from('record 3')), tree.inclusionProof(3, 7), result.checkpoint.root)).toBe(true);
    const later = treeOf(12);
    expect(verifyConsistency(7, 12, result.checkpoint.root, later.root(), later.consistencyProof(7, 12))).toBe(true);
  });

  it('rejects a forged signature, another key with the same name, a wrong origin, and edits', () => {
    const signer = freshSigner();
    const verifier = parseVerifierKey(verifierKeyOf(signer.name, signer.publicKey));
    const tree = treeOf(5);
    const note = signCheckpoint({ origin, size: 5, root: tree.root(), extensions: [] }, [signer]);
    // An attacker with another key under the same name: different key ID, so not ours → unverified.
    const impostor = freshSigner();
    const forged = signCheckpoint({ origin, size: 5, root: treeOf(6).root(6), extensions: [] }, [impostor]);
    expect(verifyCheckpoint(forged, { origin, verifiers: [verifier] })).toMatchObject({ ok: false, reason: 'unverified' });
    // The attacker copies our key ID onto their signature: a known key that does not verify.
    const ours = Buffer.from(note.slice(note.lastIndexOf(' ') + 1, -1), 'base64');
    const theirs = Buffer.from(forged.slice(forged.lastIndexOf(' ') + 1, -1), 'base64');
    const splicedSig = Buffer.concat([ours.subarray(0, 4), theirs.subarray(4)]).toString('base64');
    const spliced = `${forged.slice(0, forged.lastIndexOf(' ') + 1)}${splicedSig}\n`;
    expect(verifyCheckpoint(spliced, { origin, verifiers: [verifier] })).toMatchObject({ ok: false, reason: 'invalid_signature' });
    // The body edited under our signature.
    expect(verifyCheckpoint(note.replace('\n5\n', '\n6\n'), { origin, verifiers: [verifier] })).toMatchObject({
      ok: false,
      reason: 'invalid_signature',
    });
    expect(verifyCheckpoint(note, { origin: 'other.example/log', verifiers: [verifier] })).toMatchObject({ ok: false, reason: 'wrong_origin' });
    expect(verifyCheckpoint(note, { origin, verifiers: [] })).toMatchObject({ ok: false, reason: 'unverified' });
    // A signed note that is not a checkpoint.
    expect(verifyCheckpoint(signNote('hello\nworld\n', [signer]), { origin: 'hello', verifiers: [verifier] })).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });

  it('ignores unknown cosignatures (witnesses) and keeps them listed', () => {
    const log = freshSigner();
    const witness = freshSigner('witness.example/w1');
    const tree = treeOf(3);
    const note = signCheckpoint({ origin, size: 3, root: tree.root(), extensions: [] }, [log, witness]);
    const onlyLog = verifyCheckpoint(note, { origin, verifiers: [parseVerifierKey(verifierKeyOf(log.name, log.publicKey))] });
    expect(onlyLog.ok && onlyLog.unverified.map((s) => s.name)).toEqual(['witness.example/w1']);
    const both = verifyCheckpoint(note, {
      origin,
      verifiers: [log, witness].map((s) => parseVerifierKey(verifierKeyOf(s.name, s.publicKey))),
    });
    expect(both.ok && both.signatures.map((s) => s.name)).toEqual([origin, 'witness.example/w1']);
  });

  it('parses only well-formed checkpoint bodies', () => {
    const root = Buffer.from(treeOf(2).root()).toString('base64');
    for (const bad of [
      `o\n2\n${root}`,
      `o\n02\n${root}\n`,
      `o\n-2\n${root}\n`,
      `o\n0x2\n${root}\n`,
      `o\n9007199254740993\n${root}\n`,
      `o\n2\n${root.slice(4)}\n`,
      `o\n2\n${root}\n\next\n`,
      `\n2\n${root}\n`,
      `o\n2\n`,
    ]) {
      expect(parseCheckpoint(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(parseCheckpoint(`o\n0\n${root}\n`)?.size).toBe(0);
    expect(parseCheckpoint(`o\n2\n${root}\next one\next two\n`)?.extensions).toEqual(['ext one', 'ext two']);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, root: treeOf(1).root(), extensions: [] })).toThrow(KeyturnError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1, root: new Uint8Array(3), extensions: [] })).toThrow(KeyturnError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1, root: treeOf(1).root(), extensions: [''] })).toThrow(KeyturnError);
    expect(checkpointTime({ origin: 'a', size: 1, root: treeOf(1).root(), extensions: ['time yesterday'] })).toBeUndefined();
  });

  it('signer keys round-trip in the sumdb/note text form; node:crypto keys work too', () => {
    const seed = new Uint8Array(randomBytes(32));
    const skey = signerKeyOf('keyturn.example/audit', seed);
    const signer = parseSignerKey(skey);
    expect(signer.publicKey).toEqual(ed25519Signer('keyturn.example/audit', seed).publicKey);
    expect(() => parseSignerKey(skey.replace('PRIVATE', 'PUBLIC'))).toThrow(KeyturnError);
    const { privateKey } = generateKeyPairSync('ed25519');
    const fromKeyObject = ed25519Signer('a.example/log', privateKey);
    const note = signNote('x\n', [fromKeyObject]);
    expect(openNote(note, [parseVerifierKey(verifierKeyOf('a.example/log', fromKeyObject.publicKey))]).ok).toBe(true);
    expect(() => ed25519Signer('has space', seed)).toThrow(KeyturnError);
    expect(() => ed25519Signer('has+plus', seed)).toThrow(KeyturnError);
    expect(() => ed25519Signer('a', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)).toThrow(KeyturnError);
  });

  it('property: any byte flipped in a signed checkpoint is rejected', () => {
    const signer = freshSigner();
    const verifier = parseVerifierKey(verifierKeyOf(signer.name, signer.publicKey));
    const tree = treeOf(9);
    const note = Buffer.from(signCheckpoint({ origin, size: 9, root: tree.root(), extensions: [] }, [signer]));
    fc.assert(
      fc.property(fc.nat(note.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const tampered = Buffer.from(note);
        tampered[at] = (tampered[at] as number) ^ xor;
        const result = verifyCheckpoint(tampered, { origin, verifiers: [verifier] });
        // Base64 has no slack in our canonical check, so every flip must be caught.
        expect(result.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
