/**
 * Shapes shared by the leak scanner's engine, detectors, sources and reports.
 *
 * A {@link RuleSpec} is plain data (it crosses into worker threads and can be written in a
 * user's rules file); a {@link Finding} is one secret found at one place. `Finding.secret`
 * is the secret itself: it never leaves the process unredacted unless the user asks.
 */

/** Named checks implemented in code that a rule can ask for after its regex matched. */
export const VALIDATORS = [
  'keyturn',
  'github-classic',
  'jwt',
  'private-key',
  'generic',
  'aws-secret',
  'connection-string',
  'crc32-base62',
  'embedded-json',
  'discord-bot',
  'bech32',
  'provider-value',
  'provider-uuid',
] as const;
export type ValidatorName = (typeof VALIDATORS)[number];

/** One detection rule: data only, so it can live in JSON and cross thread boundaries. */
export interface RuleSpec {
  /** Stable id, e.g. `github-classic-token`. */
  readonly id: string;
  /** The category reported as `kind`, e.g. `github`, `aws`, `private-key`. */
  readonly kind: string;
  readonly description: string;
  /** Literals (matched case-insensitively) of which one must occur before the regex runs. Empty: always run. */
  readonly keywords: readonly string[];
  /** ECMAScript regex source. The secret is `secretGroup`, else the first capture group that matched, else the whole match. */
  readonly pattern: string;
  /** Regex flags besides `g` (which is always added), e.g. `i`. */
  readonly flags?: string;
  readonly secretGroup?: number;
  /** Where the finding is located: at the secret (default) or at the start of the whole match. */
  readonly locate?: 'secret' | 'match';
  /** Minimum Shannon entropy of the secret, in bits per character. */
  readonly entropy?: number;
  readonly validate?: ValidatorName;
  /** Lower numbers win when two findings overlap; provider rules 10, generic rules 100. */
  readonly priority?: number;
  readonly allow?: AllowSpec;
}

/** What is never a finding. Regexes are ECMAScript sources. */
export interface AllowSpec {
  /** Matched against the file path (or object key, or `<stdin>`). */
  readonly paths?: readonly string[];
  /** Matched against the secret. */
  readonly regexes?: readonly string[];
  /** Case-insensitive substrings of the secret. */
  readonly stopwords?: readonly string[];
}

/** Everything the detection engine needs; serialisable. */
export interface EngineConfig {
  readonly rules: readonly RuleSpec[];
  readonly allow: AllowSpec;
  /** Files larger than this are skipped (bytes). */
  readonly maxFileBytes: number;
  /**
   * The key (64 hex digits) fingerprints of non-keyturn secrets are HMACs under (see
   * `src/core/fingerprint.ts`): from the baseline file, the state directory or the server; a
   * fresh one per scan otherwise.
   */
  readonly fingerprintKey: string;
}

/** One secret at one place. */
export interface Finding {
  /** Path of the file, blob path in history, object key, or `<stdin>`. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in UTF-16 code units. */
  readonly column: number;
  readonly kind: string;
  readonly rule: string;
  /**
   * Stands for the secret, the same wherever it is found: SHA-256 (hex) of a keyturn secret (its
   * stored digest), else HMAC-SHA256 (hex) under the scan's fingerprint key. Safe to store.
   */
  readonly fingerprint: string;
  /** The secret itself. Sensitive: redact before output. */
  readonly secret: string;
  /**
   * The secret as it may be shown: a provider's public prefix at most (`ghp_********`), see
   * `redactFinding` in `report.ts`. Set by the engine, which knows the rule.
   */
  readonly shown: string;
  /** History scans: the commit that introduced it. */
  readonly commit?: string;
  /** History scans: whether it is still in a file at HEAD. */
  readonly atHead?: boolean;
}

/** What a worker reports for one input. */
export interface ItemResult {
  readonly name: string;
  /** Passed through from the input (e.g. a git blob id). */
  readonly key?: string;
  readonly bytes: number;
  readonly skipped?: 'binary' | 'too-large' | 'unreadable';
  readonly findings: readonly Finding[];
}
