/**
 * RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree hashing over SHA-256: the hashes,
 * the tree head of any size, inclusion and consistency proofs (generation and verification), an
 * O(log n) accumulator that keeps only the right edge of complete subtrees, and an in-memory tree
 * that answers roots and proofs for every size it has seen.
 *
 * Definitions (RFC 9162 §2.1.1), for a list of n entries D[n]:
 * - the hash of an empty list is SHA-256 of nothing;
 * - a leaf hash is `SHA-256(0x00 || entry)`;
 * - a node hash is `SHA-256(0x01 || left || right)`;
 * - for n > 1, with k the largest power of two smaller than n,
 *   `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`.
 *
 * The hashing is the same as RFC 6962's, so roots, proofs and checkpoints are readable by existing
 * transparency-log tooling (transparency-dev/merkle, sumdb/tlog, witnesses). Verification follows
 * the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms step by step, with sizes as bigint so that any
 * uint64 a proof claims is handled exactly.
 */
import { createHash, hash } from 'node:crypto';
import { KeyturnError } from '../core/errors.js';

/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/**
 * The hash of an empty tree: SHA-256 of the empty string.
 *
 * @example
 * ```ts
 * Buffer.from(emptyRoot()).toString('hex'); // 'e3b0c442…b855'
 * ```
 */
export function emptyRoot(): Uint8Array {
  return new Uint8Array(createHash('sha256').digest());
}

/**
 * The leaf hash of one entry: `SHA-256(0x00 || entry)` (RFC 9162 §2.1.1).
 *
 * @example
 * ```ts
 * const h = leafHash(new TextEncoder().encode(canonicalJson));
 * ```
 */
export function leafHash(entry: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(entry).digest());
}

/**
 * {@link leafHash} of the UTF-8 bytes of `text`: one-shot SHA-256 of `U+0000` (UTF-8 0x00, the leaf
 * prefix) followed by the text, without a hash object or a buffer of the text's own.
 */
export function leafHashOfText(text: string): Uint8Array {
  return view(hash('sha256', `\u0000${text}`, 'buffer'));
}

/** A plain `Uint8Array` over a buffer's bytes (no copy). */
const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * The hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1).
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = NODE_PREFIX[0]!;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return view(hash('sha256', input, 'buffer'));
}

/** Constant-length byte comparison (hashes are public, so timing does not matter here). */
export function equalHashes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The largest power of two strictly smaller than `n` (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function assertSize(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new KeyturnError('ERR_VALIDATION', `${what} must be a non-negative integer`, { details: { [what]: value } });
  }
}

/**
 * The tree head `MTH(D[n])` of a list of leaf hashes, computed from scratch (O(n)).
 * Prefer {@link MerkleTree} or {@link MerkleAccumulator} when the list grows.
 *
 * @example
 * ```ts
 * const root = rootFromLeafHashes(entries.map(leafHash));
 * ```
 */
export function rootFromLeafHashes(leaves: readonly Uint8Array[]): Uint8Array {
  const acc = new MerkleAccumulator();
  for (const leaf of leaves) acc.append(leaf);
  return acc.root();
}

/**
 * An append-only accumulator that keeps only the roots of the complete subtrees along the right
 * edge of the tree (at most ⌈log₂ n⌉ + 1 hashes): appending is amortised O(1) hashes and the root
 * of the current size is O(log n). Its state can be saved and restored, so a writer resumes
 * without rereading the log.
 *
 * @example
 * ```ts
 * const acc = new MerkleAccumulator();
 * for (const record of records) acc.append(leafHash(record));
 * const head = { size: acc.size, root: acc.root() };
 * ```
 */
export class MerkleAccumulator {
  /** Complete subtree roots, largest (leftmost) first; their sizes are the set bits of `size`. */
  #edge: Uint8Array[];
  #size: number;

  constructor(state?: { readonly size: number; readonly edge: readonly Uint8Array[] }) {
    if (state === undefined) {
      this.#edge = [];
      this.#size = 0;
      return;
    }
    assertSize('size', state.size);
    if (popCount(state.size) !== state.edge.length || state.edge.some((h) => h.length !== HASH_SIZE)) {
      throw new KeyturnError('ERR_VALIDATION', 'accumulator state does not match its size');
    }
    this.#edge = state.edge.map((h) => Uint8Array.from(h));
    this.#size = state.size;
  }

  /** Number of leaves appended. */
  get size(): number {
    return this.#size;
  }

  /** The right edge, to persist: restore with `new MerkleAccumulator({ size, edge })`. */
  state(): { size: number; edge: Uint8Array[] } {
    return { size: this.#size, edge: this.#edge.map((h) => Uint8Array.from(h)) };
  }

  /** Appends one leaf hash (see {@link leafHash}). */
  append(leaf: Uint8Array): void {
    if (leaf.length !== HASH_SIZE) throw new KeyturnError('ERR_VALIDATION', 'a leaf hash is 32 bytes');
    let hash: Uint8Array = Uint8Array.from(leaf);
    // Each trailing set bit of the old size is a complete subtree of the same height: merge.
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) {
      const left = this.#edge.pop();
      if (left === undefined) throw new KeyturnError('ERR_INTERNAL', 'accumulator edge underflow');
      hash = nodeHash(left, hash);
    }
    this.#edge.push(hash);
    this.#size += 1;
  }

  /** The tree head of the leaves appended so far (the empty root when there are none). */
  root(): Uint8Array {
    const last = this.#edge.length - 1;
    if (last < 0) return emptyRoot();
    let hash = this.#edge[last] as Uint8Array;
    for (let i = last - 1; i >= 0; i--) hash = nodeHash(this.#edge[i] as Uint8Array, hash);
    return hash;
  }
}

/** log₂ n when n is a power of two, else undefined (exact for every safe integer). */
function perfectHeight(n: number): number | undefined {
  let height = 0;
  let v = n;
  while (v > 1 && v % 2 === 0) {
    v /= 2;
    height += 1;
  }
  return v === 1 ? height : undefined;
}

function popCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}

/**
 * An in-memory Merkle tree that stores every complete subtree hash (about 2n hashes), so the root
 * of any earlier size and inclusion or consistency proofs between any sizes cost O(log n) hashes.
 * `keyturn audit verify` rebuilds one from the stored records.
 *
 * @example
 * ```ts
 * const tree = new MerkleTree();
 * for (const record of records) tree.append(leafHash(record));
 * const proof = tree.inclusionProof(5, tree.size);
 * verifyInclusion(5, tree.size, tree.leaf(5), proof, tree.root()); // true
 * ```
 */
export class MerkleTree {
  /** levels[h][i]: root of the complete subtree of height h covering leaves [i·2^h, (i+1)·2^h). */
  readonly #levels: Uint8Array[][] = [[]];

  /** Number of leaves. */
  get size(): number {
    return (this.#levels[0] as Uint8Array[]).length;
  }

  /** Appends one leaf hash and returns its index. */
  append(leaf: Uint8Array): number {
    if (leaf.length !== HASH_SIZE) throw new KeyturnError('ERR_VALIDATION', 'a leaf hash is 32 bytes');
    const index = this.size;
    let hash: Uint8Array = Uint8Array.from(leaf);
    let i = index;
    for (let h = 0; ; h++) {
      const level = this.#levels[h] ?? (this.#levels[h] = []);
      level.push(hash);
      if (i % 2 === 0) break;
      hash = nodeHash(level[i - 1] as Uint8Array, hash);
      i = Math.floor(i / 2);
    }
    return index;
  }

  /** The leaf hash at `index`. */
  leaf(index: number): Uint8Array {
    this.#checkRange(index, 0, this.size - 1, 'index');
    return this.#levels[0]?.[index] as Uint8Array;
  }

  /** The tree head `MTH(D[0:size])` of the first `size` leaves (default: all). */
  root(size: number = this.size): Uint8Array {
    this.#checkRange(size, 0, this.size, 'size');
    return size === 0 ? emptyRoot() : this.#hash(0, size);
  }

  /**
   * The inclusion proof `PATH(index, D[0:size])` (RFC 9162 §2.1.3.1): the sibling hashes from the
   * leaf up to the root of the tree of `size` leaves.
   */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.#checkRange(size, 1, this.size, 'size');
    this.#checkRange(index, 0, size - 1, 'index');
    const proof: Uint8Array[] = [];
    this.#path(index, 0, size, proof);
    return proof;
  }

  /**
   * The consistency proof `PROOF(oldSize, D[0:newSize])` (RFC 9162 §2.1.4.1) that the tree of
   * `oldSize` leaves is a prefix of the tree of `newSize` leaves. Empty when the sizes are equal.
   */
  consistencyProof(oldSize: number, newSize: number = this.size): Uint8Array[] {
    this.#checkRange(newSize, 1, this.size, 'newSize');
    this.#checkRange(oldSize, 1, newSize, 'oldSize');
    const proof: Uint8Array[] = [];
    if (oldSize < newSize) this.#subproof(oldSize, 0, newSize, true, proof);
    return proof;
  }

  #checkRange(value: number, min: number, max: number, what: string): void {
    assertSize(what, value);
    if (value < min || value > max) {
      throw new KeyturnError('ERR_VALIDATION', `${what} ${value} is out of range [${min}, ${max}]`, {
        details: { [what]: value, min, max },
      });
    }
  }

  /** MTH(D[start:end]) where start is aligned as the RFC recursion produces it (O(log n)). */
  #hash(start: number, end: number): Uint8Array {
    const n = end - start;
    const height = perfectHeight(n);
    if (height !== undefined) {
      const stored = this.#levels[height]?.[start / n];
      if (stored !== undefined) return stored;
    }
    const k = splitPoint(n);
    return nodeHash(this.#hash(start, start + k), this.#hash(start + k, end));
  }

  /** PATH(m, D[start:end]), appended bottom-up to `out`. */
  #path(m: number, start: number, end: number, out: Uint8Array[]): void {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.#path(m, start, start + k, out);
      out.push(this.#hash(start + k, end));
    } else {
      this.#path(m - k, start + k, end, out);
      out.push(this.#hash(start, start + k));
    }
  }

  /** SUBPROOF(m, D[start:end], b), appended bottom-up to `out`. */
  #subproof(m: number, start: number, end: number, complete: boolean, out: Uint8Array[]): void {
    const n = end - start;
    if (m === n) {
      if (!complete) out.push(this.#hash(start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.#subproof(m, start, start + k, complete, out);
      out.push(this.#hash(start + k, end));
    } else {
      this.#subproof(m - k, start + k, end, false, out);
      out.push(this.#hash(start, start + k));
    }
  }
}

function toBig(value: number | bigint): bigint | undefined {
  if (typeof value === 'bigint') return value >= 0n ? value : undefined;
  return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
}

/**
 * Verifies an inclusion proof with the RFC 9162 §2.1.3.2 algorithm: true only when the proof
 * leads from `leaf` at `index` to `root` of a tree of `size` leaves, using every proof hash.
 *
 * @example
 * ```ts
 * if (!verifyInclusion(index, checkpoint.size, leafHash(record), proof, checkpoint.root)) reject();
 * ```
 */
export function verifyInclusion(
  index: number | bigint,
  size: number | bigint,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const leafIndex = toBig(index);
  const treeSize = toBig(size);
  if (leafIndex === undefined || treeSize === undefined || leafIndex >= treeSize) return false;
  if (leaf.length !== HASH_SIZE || root.length !== HASH_SIZE) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalHashes(r, root);
}

/**
 * Verifies a consistency proof with the RFC 9162 §2.1.4.2 algorithm: true only when the tree of
 * `oldSize` leaves with head `oldRoot` is a prefix of the tree of `newSize` leaves with head
 * `newRoot`. Equal sizes need an empty proof and equal roots; a proof from the empty tree is
 * meaningless and rejected (as transparency-dev/merkle does).
 *
 * @example
 * ```ts
 * verifyConsistency(previous.size, next.size, previous.root, next.root, proof);
 * ```
 */
export function verifyConsistency(
  oldSize: number | bigint,
  newSize: number | bigint,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  const first = toBig(oldSize);
  const second = toBig(newSize);
  if (first === undefined || second === undefined || first === 0n || second < first) return false;
  if (first === second) return proof.length === 0 && equalHashes(oldRoot, newRoot);
  if (oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE) return false;
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_SIZE)) return false;
  // Step 2: when the old tree is complete, its root is the first node of the path.
  const path = (first & (first - 1n)) === 0n ? [oldRoot, ...proof] : [...proof];
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalHashes(fr, oldRoot) && equalHashes(sr, newRoot);
}
