/**
 * RFC 9162 Merkle hashing and proofs, checked against someone else's output: the probes and the
 * RFC 6962 reference tree of github.com/transparency-dev/merkle (commit 417fb0c3, files
 * testdata/inclusion, testdata/consistency, testonly/constants.go, rfc6962/rfc6962_test.go),
 * copied as data into test/vectors/merkle/ by test/vectors/merkle/extract.mjs, then by property
 * tests over random trees.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptyRoot,
  leafHash,
  MerkleAccumulator,
  MerkleTree,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle.js';
import { KeyturnError } from '../../src/core/errors.js';

const SOURCE_COMMIT = '417fb0c314750d94e53942e9f92e79b6d35915db';

interface Source {
  readonly repository: string;
  readonly commit: string;
}
interface InclusionProbe {
  readonly path: string;
  readonly leafIdx: number | string;
  readonly treeSize: number | string;
  readonly root: string;
  readonly leafHash: string;
  readonly proof: string[] | null;
  readonly desc: string;
  readonly wantErr: boolean;
}
interface ConsistencyProbe {
  readonly path: string;
  readonly size1: number | string;
  readonly size2: number | string;
  readonly root1: string;
  readonly root2: string;
  readonly proof: string[] | null;
  readonly desc: string;
  readonly wantErr: boolean;
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/merkle/${name}`, import.meta.url), 'utf8')) as T;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const big = (v: number | string): bigint => BigInt(v);

const inclusion = load<{ source: Source; probes: InclusionProbe[] }>('inclusion.json');
const consistency = load<{ source: Source; probes: ConsistencyProbe[] }>('consistency.json');
const reference = load<{
  source: Source;
  leafInputs: string[];
  nodeHashes: string[][];
  rootHashes: string[];
  hasher: { desc: string; emptyRoot?: true; leafAscii?: string; childrenAscii?: [string, string]; want: string }[];
}>('rfc6962.json');

describe('test vectors from transparency-dev/merkle', () => {
  it('name their source repository and commit', () => {
    for (const file of [inclusion, consistency, reference]) {
      expect(file.source.repository).toBe('https://github.com/transparency-dev/merkle');
      expect(file.source.commit).toBe(SOURCE_COMMIT);
    }
    expect(inclusion.probes.length).toBeGreaterThan(90);
    expect(consistency.probes.length).toBeGreaterThan(90);
  });

  it('RFC 6962 hasher: empty root, leaf and node hashes (rfc6962_test.go)', () => {
    for (const v of reference.hasher) {
      let got: Uint8Array;
      if (v.emptyRoot === true) got = emptyRoot();
      else if (v.childrenAscii !== undefined) got = nodeHash(Buffer.from(v.childrenAscii[0]), Buffer.from(v.childrenAscii[1]));
      else got = leafHash(Buffer.from(v.leafAscii ?? '', 'ascii'));
      expect(toHex(got), v.desc).toBe(v.want);
    }
  });

  it('reference tree: every root by size and every complete subtree (testonly/constants.go)', () => {
    const leaves = reference.leafInputs.map((l) => leafHash(hex(l)));
    const tree = new MerkleTree();
    const acc = new MerkleAccumulator();
    expect(toHex(tree.root())).toBe(reference.rootHashes[0]);
    leaves.forEach((leaf, i) => {
      tree.append(leaf);
      acc.append(leaf);
      expect(toHex(tree.root()), `tree size ${i + 1}`).toBe(reference.rootHashes[i + 1]);
      expect(toHex(acc.root()), `accumulator size ${i + 1}`).toBe(reference.rootHashes[i + 1]);
      expect(toHex(rootFromLeafHashes(leaves.slice(0, i + 1)))).toBe(reference.rootHashes[i + 1]);
    });
    for (let size = 0; size <= leaves.length; size++) expect(toHex(tree.root(size))).toBe(reference.rootHashes[size]);
    reference.nodeHashes[0]?.forEach((h, i) => expect(toHex(tree.leaf(i))).toBe(h));
    // A complete subtree at level l, index i, is the root of the 2^l leaves it covers.
    reference.nodeHashes.forEach((level, l) =>
      level.forEach((h, i) => {
        const span = 2 ** l;
        expect(toHex(rootFromLeafHashes(leaves.slice(i * span, (i + 1) * span)))).toBe(h);
      }),
    );
  });

  it.each(inclusion.probes.map((p) => [p.path, p] as const))('inclusion %s', (_path, p) => {
    const ok = verifyInclusion(big(p.leafIdx), big(p.treeSize), b64(p.leafHash), (p.proof ?? []).map(b64), b64(p.root));
    expect(ok, p.desc).toBe(!p.wantErr);
  });

  it.each(consistency.probes.map((p) => [p.path, p] as const))('consistency %s', (_path, p) => {
    const ok = verifyConsistency(big(p.size1), big(p.size2), b64(p.root1), b64(p.root2), (p.proof ?? []).map(b64));
    expect(ok, p.desc).toBe(!p.wantErr);
  });

  it('our generated proofs equal the published happy-path proofs', () => {
    const tree = new MerkleTree();
    for (const l of reference.leafInputs) tree.append(leafHash(hex(l)));
    const happyInclusion = inclusion.probes.filter((p) => p.desc === 'happy path' && Number(p.treeSize) === tree.size);
    const happyConsistency = consistency.probes.filter((p) => p.desc === 'happy path' && Number(p.size2) <= tree.size && Number(p.size1) > 0);
    expect(happyInclusion.length).toBeGreaterThanOrEqual(2);
    expect(happyConsistency.length).toBeGreaterThanOrEqual(2);
    for (const p of happyInclusion) {
      const proof = tree.inclusionProof(Number(p.leafIdx), Number(p.treeSize)).map((h) => Buffer.from(h).toString('base64'));
      expect(proof).toEqual(p.proof ?? []);
    }
    for (const p of happyConsistency) {
      const proof = tree.consistencyProof(Number(p.size1), Number(p.size2)).map((h) => Buffer.from(h).toString('base64'));
      expect(proof).toEqual(p.proof ?? []);
    }
  });
});

/** A random tree of 1–70 leaves built from random entries. */
const arbTree = fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 70 }).map((entries) => {
  const tree = new MerkleTree();
  for (const e of entries) tree.append(leafHash(e));
  return tree;
});

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  const i = Math.floor(bit / 8) % copy.length;
  copy[i] = (copy[i] as number) ^ (1 << bit % 8);
  return copy;
}

describe('property: inclusion proofs', () => {
  it('every leaf of every prefix verifies against that prefix root', () => {
    fc.assert(
      fc.property(arbTree, (tree) => {
        for (let size = 1; size <= tree.size; size++) {
          const root = tree.root(size);
          for (let i = 0; i < size; i++) {
            if (!verifyInclusion(i, size, tree.leaf(i), tree.inclusionProof(i, size), root)) return false;
          }
        }
        return true;
      }),
      { numRuns: 25 },
    );
  });

  it('a tampered leaf, proof hash, index, size or root fails', () => {
    fc.assert(
      fc.property(arbTree, fc.nat(), fc.nat(), fc.nat(), (tree, a, b, bit) => {
        const size = 1 + (a % tree.size);
        const index = b % size;
        const leaf = tree.leaf(index);
        const proof = tree.inclusionProof(index, size);
        const root = tree.root(size);
        expect(verifyInclusion(index, size, leaf, proof, root)).toBe(true);
        expect(verifyInclusion(index, size, flipBit(leaf, bit), proof, root)).toBe(false);
        expect(verifyInclusion(index, size, leaf, proof, flipBit(root, bit))).toBe(false);
        if (proof.length > 0) {
          const at = bit % proof.length;
          const tampered = proof.map((p, i) => (i === at ? flipBit(p, bit) : p));
          expect(verifyInclusion(index, size, leaf, tampered, root)).toBe(false);
          expect(verifyInclusion(index, size, leaf, proof.slice(0, -1), root)).toBe(false);
        }
        expect(verifyInclusion(index, size, leaf, [...proof, root], root)).toBe(false);
        // Another index holding a different leaf hash, or a different tree size, fails.
        const other = (index + 1 + (bit % size)) % size;
        if (other !== index && !Buffer.from(tree.leaf(other)).equals(leaf)) {
          expect(verifyInclusion(other, size, leaf, proof, root)).toBe(false);
        }
        // A proof for one tree head does not verify against the head of a larger tree.
        if (size < tree.size) expect(verifyInclusion(index, size + 1, leaf, proof, tree.root(size + 1))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('property: consistency proofs', () => {
  it('every m ≤ n verifies', () => {
    fc.assert(
      fc.property(arbTree, (tree) => {
        for (let n = 1; n <= tree.size; n++) {
          for (let m = 1; m <= n; m++) {
            if (!verifyConsistency(m, n, tree.root(m), tree.root(n), tree.consistencyProof(m, n))) return false;
          }
        }
        return true;
      }),
      { numRuns: 15 },
    );
  });

  it('a tampered root, proof hash or size fails', () => {
    fc.assert(
      fc.property(arbTree, fc.nat(), fc.nat(), fc.nat(), (tree, a, b, bit) => {
        const n = 1 + (a % tree.size);
        const m = 1 + (b % n);
        const proof = tree.consistencyProof(m, n);
        const r1 = tree.root(m);
        const r2 = tree.root(n);
        expect(verifyConsistency(m, n, r1, r2, proof)).toBe(true);
        expect(verifyConsistency(m, n, flipBit(r1, bit), r2, proof)).toBe(false);
        expect(verifyConsistency(m, n, r1, flipBit(r2, bit), proof)).toBe(false);
        if (proof.length > 0) {
          const at = bit % proof.length;
          expect(verifyConsistency(m, n, r1, r2, proof.map((p, i) => (i === at ? flipBit(p, bit) : p)))).toBe(false);
          expect(verifyConsistency(m, n, r1, r2, proof.slice(1))).toBe(false);
          expect(verifyConsistency(n, m, r2, r1, proof)).toBe(false);
        }
        expect(verifyConsistency(m, n, r1, r2, [...proof, r2])).toBe(false);
        if (n < tree.size) expect(verifyConsistency(m, n + 1, r1, tree.root(n + 1), proof)).toBe(false);
        expect(verifyConsistency(0, n, emptyRoot(), r2, proof)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('a rewritten history is not consistent with the old head', () => {
    fc.assert(
      fc.property(arbTree, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (tree, a, junk) => {
        const m = 1 + (a % tree.size);
        const rewritten = new MerkleTree();
        for (let i = 0; i < tree.size; i++) rewritten.append(i === m - 1 ? leafHash(junk) : tree.leaf(i));
        fc.pre(!Buffer.from(rewritten.leaf(m - 1)).equals(tree.leaf(m - 1)));
        const n = rewritten.size;
        expect(verifyConsistency(m, n, tree.root(m), rewritten.root(n), rewritten.consistencyProof(m, n))).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('MerkleAccumulator', () => {
  it('matches the full tree at every size and resumes from its saved state', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 300 }), fc.nat(), (entries, cut) => {
        const tree = new MerkleTree();
        let acc = new MerkleAccumulator();
        const at = entries.length === 0 ? 0 : cut % entries.length;
        entries.forEach((e, i) => {
          if (i === at) acc = new MerkleAccumulator(acc.state());
          const h = leafHash(e);
          tree.append(h);
          acc.append(h);
          expect(acc.state().edge.length).toBeLessThanOrEqual(Math.floor(Math.log2(i + 1)) + 1);
          expect(Buffer.from(acc.root()).equals(tree.root())).toBe(true);
        });
        expect(acc.size).toBe(entries.length);
      }),
      { numRuns: 30 },
    );
  });

  it('rejects a state whose edge does not match its size, and leaves that are not hashes', () => {
    expect(() => new MerkleAccumulator({ size: 3, edge: [emptyRoot()] })).toThrow(KeyturnError);
    expect(() => new MerkleAccumulator().append(new Uint8Array(31))).toThrow(KeyturnError);
  });
});

describe('MerkleTree arguments', () => {
  it('rejects sizes and indexes outside the tree', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 5; i++) tree.append(leafHash(Uint8Array.of(i)));
    expect(() => tree.root(6)).toThrow(KeyturnError);
    expect(() => tree.inclusionProof(5, 5)).toThrow(KeyturnError);
    expect(() => tree.inclusionProof(0, 0)).toThrow(KeyturnError);
    expect(() => tree.consistencyProof(0, 5)).toThrow(KeyturnError);
    expect(() => tree.consistencyProof(4, 3)).toThrow(KeyturnError);
    expect(() => tree.leaf(-1)).toThrow(KeyturnError);
    expect(tree.consistencyProof(5, 5)).toEqual([]);
  });
});
