import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * GitHub secret scanning partner program: GitHub POSTs the tokens it found as a JSON array and
 * signs the **raw** body with ECDSA P-256 / SHA-256 (`Github-Public-Key-Signature`, base64 DER),
 * naming the key in `Github-Public-Key-Identifier`. Its public keys are published as
 * `{"public_keys":[{"key_identifier","key","is_current"}]}` with PEM keys.
 */

/** One match GitHub reports. */
export const githubMatchSchema = z.object({
  token: z.string().min(1).max(4096),
  type: z.string().min(1).max(128),
  url: z.string().max(2048).optional(),
  source: z.string().max(128).optional(),
});
export const githubBodySchema = z.array(githubMatchSchema).min(1).max(1000);
export type GitHubMatch = z.output<typeof githubMatchSchema>;

/** The partner feedback GitHub expects back, one entry per reported token. */
export interface GitHubFeedback {
  readonly token_hash: string;
  readonly token_type: string;
  readonly label: 'true_positive' | 'false_positive';
}

const keysDocument = z.object({
  public_keys: z
    .array(z.object({ key_identifier: z.string().min(1).max(512), key: z.string().min(1).max(8192), is_current: z.boolean().optional() }))
    .max(64),
});

export interface GitHubKeysOptions {
  /** Where the keys are published. */
  readonly url: string;
  readonly now?: () => number;
  /** An unknown identifier triggers at most one refetch per this many ms. */
  readonly minRefetchMs?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/**
 * GitHub's signing keys, fetched on first use and cached by identifier. An unknown identifier
 * refetches the list (at most once per `minRefetchMs`, one fetch at a time), so a rotation at
 * GitHub is picked up without a restart and a flood of made-up identifiers costs nothing.
 */
export class GitHubKeys {
  readonly #url: string;
  readonly #now: () => number;
  readonly #minRefetchMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  #keys = new Map<string, KeyObject>();
  #fetchedAt: number | undefined;
  #inflight: Promise<void> | undefined;

  constructor(options: GitHubKeysOptions) {
    this.#url = options.url;
    this.#now = options.now ?? Date.now;
    this.#minRefetchMs = options.minRefetchMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** The P-256 public key named `identifier`, or `undefined` when GitHub does not publish it. */
  async key(identifier: string): Promise<KeyObject | undefined> {
    const cached = this.#keys.get(identifier);
    if (cached) return cached;
    const stale = this.#fetchedAt === undefined || this.#now() - this.#fetchedAt >= this.#minRefetchMs;
    if (stale || this.#inflight) {
      this.#inflight ??= this.#refresh().finally(() => (this.#inflight = undefined));
      await this.#inflight;
    }
    return this.#keys.get(identifier);
  }

  async #refresh(): Promise<void> {
    this.#fetchedAt = this.#now();
    let doc: z.output<typeof keysDocument>;
    try {
      const response = await this.#fetch(this.#url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!response.ok) return;
      const parsed = keysDocument.safeParse(await response.json());
      if (!parsed.success) return;
      doc = parsed.data;
    } catch {
      return; // keep what we have; the next unknown identifier after minRefetchMs tries again
    }
    const keys = new Map<string, KeyObject>();
    for (const entry of doc.public_keys) {
      try {
        const key = createPublicKey(entry.key);
        if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') keys.set(entry.key_identifier, key);
      } catch {
        // not a PEM public key: ignore the entry
      }
    }
    this.#keys = keys;
  }
}

/** Checks `signature` (base64 DER ECDSA) over the exact body bytes with a P-256 key. */
export function verifyGitHubSignature(key: KeyObject, signature: string, body: Uint8Array): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length > 200) return false;
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
