import { fingerprintSecret } from '../../core/fingerprint.js';
import { tryParseSecret } from '../../core/secret.js';
import { hasInlineAllow, INLINE_ALLOW, insidePublic, isPlaceholder, publicRegions } from './allow.js';
import { buildKeywordAutomaton, keywordHits, type KeywordAutomaton } from './keywords.js';
import type { AllowSpec, EngineConfig, Finding, RuleSpec } from './types.js';
import { shannonEntropy, VALIDATOR_TABLE, type Validator } from './validators.js';

/** Validators whose check is strong enough that placeholder heuristics would only lose findings. */
const STRUCTURAL = new Set(['keyturn', 'github-classic', 'private-key', 'jwt', 'crc32-base62', 'bech32', 'embedded-json', 'provider-uuid']);

interface CompiledAllow {
  readonly paths: readonly RegExp[];
  readonly regexes: readonly RegExp[];
  readonly stopwords: readonly string[];
}

/**
 * A rule ready to run. Every rule has the same fields (absent options get neutral values), so
 * the hot loops see one object shape whatever the rule file wrote.
 */
interface CompiledRule {
  readonly id: string;
  readonly kind: string;
  readonly keywords: readonly string[];
  /** Entropy floor in bits per character; 0 for none. */
  readonly entropy: number;
  /** The capture group holding the secret; -1: the first that matched. */
  readonly secretGroup: number;
  /** Findings are located at the whole match rather than at the secret. */
  readonly locateMatch: boolean;
  /** Global: finds the matches. */
  readonly regex: RegExp;
  /** Sticky with match indices: locates the secret inside a kept match. */
  readonly located: RegExp;
  readonly validate: Validator | null;
  readonly allow: CompiledAllow;
  readonly priority: number;
  readonly placeholderCheck: boolean;
}

/** Rules compiled once per thread: regexes, the keyword prefilter and allowlists. */
export interface CompiledEngine {
  readonly rules: readonly CompiledRule[];
  /** Rules without keywords: always run. */
  readonly alwaysRules: readonly number[];
  /** The keyword prefilter over every rule's keywords. */
  readonly keywords: KeywordAutomaton;
  readonly allow: CompiledAllow;
  readonly maxFileBytes: number;
  /** Key of non-keyturn fingerprints. */
  readonly fingerprintKey: Uint8Array;
}

function compileAllow(spec: AllowSpec | undefined): CompiledAllow {
  return {
    paths: (spec?.paths ?? []).map((p) => new RegExp(p)),
    regexes: (spec?.regexes ?? []).map((p) => new RegExp(p)),
    stopwords: (spec?.stopwords ?? []).map((s) => s.toLowerCase()),
  };
}

/** A rule's own regex flags, less those the engine sets itself. */
function userFlags(spec: RuleSpec): string {
  return (spec.flags ?? '').replace(/[gdy]/g, '');
}

/**
 * Compiles an {@link EngineConfig}. Throws a `SyntaxError` on a bad regex (callers validate
 * user rules first and turn it into `ERR_CONFIG`).
 */
export function compileEngine(config: EngineConfig): CompiledEngine {
  const rules = config.rules.map<CompiledRule>((spec) => ({
    id: spec.id,
    kind: spec.kind,
    keywords: spec.keywords,
    entropy: spec.entropy ?? 0,
    secretGroup: spec.secretGroup ?? -1,
    locateMatch: spec.locate === 'match',
    regex: new RegExp(spec.pattern, `g${userFlags(spec)}`),
    located: new RegExp(spec.pattern, `dy${userFlags(spec)}`),
    validate: spec.validate ? VALIDATOR_TABLE[spec.validate] : null,
    allow: compileAllow(spec.allow),
    priority: spec.priority ?? 50,
    placeholderCheck: !spec.validate || !STRUCTURAL.has(spec.validate),
  }));
  const alwaysRules: number[] = [];
  const entries: { keyword: string; rule: number }[] = [];
  rules.forEach((rule, index) => {
    if (rule.keywords.length === 0) alwaysRules.push(index);
    for (const keyword of rule.keywords) entries.push({ keyword, rule: index });
  });
  return {
    rules,
    alwaysRules,
    keywords: buildKeywordAutomaton(entries),
    allow: compileAllow(config.allow),
    maxFileBytes: config.maxFileBytes,
    fingerprintKey: Buffer.from(config.fingerprintKey, 'hex'),
  };
}

/**
 * Indexes of the rules whose keywords occur (case-insensitively) anywhere in `text`, and of the
 * rules without keywords, ascending.
 */
export function triggeredRules(engine: CompiledEngine, text: string): number[] {
  const hit = keywordHits(engine.keywords, text);
  for (const index of engine.alwaysRules) hit.push(index);
  return hit.sort((a, b) => a - b);
}

/** True when `path` is allowlisted globally. */
export function pathAllowed(engine: CompiledEngine, path: string): boolean {
  return engine.allow.paths.some((re) => re.test(path));
}

function allowedBy(allow: CompiledAllow, secret: string, path: string): boolean {
  if (allow.paths.some((re) => re.test(path))) return true;
  if (allow.regexes.some((re) => re.test(secret))) return true;
  if (allow.stopwords.length === 0) return false;
  const lower = secret.toLowerCase();
  return allow.stopwords.some((w) => lower.includes(w));
}

/**
 * A finding's fingerprint: SHA-256 (hex) of a keyturn secret, equal to its stored digest; HMAC-SHA256
 * (hex) under `key` (the engine's fingerprint key) for any other secret, so a weak one cannot be
 * recovered from it by guessing.
 */
export const fingerprintOf: (secret: string, key: string | Uint8Array) => string = fingerprintSecret;

/** Characters a provider's public prefix must leave after it to be shown. */
const SHOWN_MIN_REST = 16;

/**
 * The secret as it may be shown, never a character of what is secret in it: a keyturn secret as its
 * display start (`kt_live_3hGx…`, the 4 body characters the key listing shows, 24 of 256 bits);
 * a provider token as the rule's literal prefix it starts with (`ghp_********`) when that is
 * followed by at least 16 characters; anything else — every generic finding, every password —
 * as asterisks alone.
 */
export function shownSecret(secret: string, rule: { readonly kind: string; readonly keywords: readonly string[] }): string {
  const parsed = tryParseSecret(secret);
  if (parsed) return `${parsed.prefix}_${parsed.body.slice(0, 4)}…`;
  const stars = '*'.repeat(8);
  if (rule.kind === 'generic') return stars;
  let shown = '';
  for (const keyword of rule.keywords) {
    if (keyword.length > shown.length && secret.startsWith(keyword) && secret.length - keyword.length >= SHOWN_MIN_REST) shown = keyword;
  }
  return `${shown}${stars}`;
}

interface Candidate {
  readonly start: number;
  readonly end: number;
  readonly rule: CompiledRule;
  readonly secret: string;
}

/** The capture group holding the secret: `group`, else the first that matched; 0 for the whole match. */
function secretGroupOf(m: RegExpExecArray, group: number): number {
  if (group >= 0) return m[group] === undefined ? 0 : group;
  for (let i = 1; i < m.length; i++) if (m[i] !== undefined) return i;
  return 0;
}

/**
 * Where group `group` of the match at `m.index` starts. Match indices (the `d` flag) slow every
 * match down, and most matches are dropped by their checks: the few kept are matched again,
 * sticky at the same place, by the rule's `d` twin.
 */
function groupOffset(rule: CompiledRule, text: string, m: RegExpExecArray, group: number): number {
  if (group === 0) return m.index;
  rule.located.lastIndex = m.index;
  return rule.located.exec(text)?.indices?.[group]?.[0] ?? m.index;
}

function acceptable(engine: CompiledEngine, rule: CompiledRule, raw: string, path: string, text: string, index: number): string | undefined {
  // The rule's own check first: it drops most matches (references, hashes, wrong checksums)
  // more cheaply than counting characters for the entropy floor.
  const secret = rule.validate ? rule.validate(raw, text, index) : raw;
  if (secret === undefined) return undefined;
  if (rule.entropy > 0 && shannonEntropy(raw) < rule.entropy) return undefined;
  if (rule.placeholderCheck && isPlaceholder(secret)) return undefined;
  if (allowedBy(rule.allow, secret, path) || allowedBy(engine.allow, secret, path)) return undefined;
  return secret;
}

function candidates(engine: CompiledEngine, text: string, path: string): Candidate[] {
  const out: Candidate[] = [];
  for (const index of triggeredRules(engine, text)) {
    const rule = engine.rules[index];
    if (!rule) continue;
    const re = rule.regex;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const group = secretGroupOf(m, rule.secretGroup);
      const raw = m[group] ?? m[0];
      const secret = acceptable(engine, rule, raw, path, text, m.index);
      if (secret === undefined) continue;
      const offset = groupOffset(rule, text, m, group);
      const start = rule.locateMatch ? m.index : offset;
      out.push({ start, end: Math.max(start + 1, offset + raw.length), rule, secret });
    }
  }
  return out;
}

/** Keeps, of overlapping candidates, the one with the lowest priority number. */
function resolveOverlaps(list: Candidate[]): Candidate[] {
  const byPriority = [...list].sort((a, b) => a.rule.priority - b.rule.priority || a.start - b.start);
  const kept: Candidate[] = [];
  for (const c of byPriority) {
    if (!kept.some((k) => c.start < k.end && k.start < c.end)) kept.push(c);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Line and column of offsets visited in ascending order: newlines are counted only up to the
 * last finding, once, and only for texts that have findings.
 */
class LineCursor {
  readonly #text: string;
  #line = 1;
  #lineStart = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** 1-based line and column of `offset` (offsets must not decrease between calls). */
  at(offset: number): { line: number; column: number; lineStart: number } {
    for (let i = this.#text.indexOf('\n', this.#lineStart); i !== -1 && i < offset; i = this.#text.indexOf('\n', i + 1)) {
      this.#line++;
      this.#lineStart = i + 1;
    }
    return { line: this.#line, column: offset - this.#lineStart + 1, lineStart: this.#lineStart };
  }
}

function inlineAllowed(text: string, lineStart: number, secretEnd: number): boolean {
  const lineEnd = text.indexOf('\n', secretEnd);
  const line = text.slice(lineStart, lineEnd === -1 ? text.length : lineEnd);
  return line.includes(INLINE_ALLOW);
}

/**
 * Finds the secrets in one text. Pure: no I/O; `path` is only used for allowlists and the
 * findings' `file`.
 *
 * @example
 * ```ts
 * const engine = compileEngine(defaultEngineConfig());
 * detect(engine, 'token = "ghp_…"', 'a.env'); // [{ kind: 'github', line: 1, … }]
 * ```
 */
export function detect(engine: CompiledEngine, text: string, path: string): Finding[] {
  if (pathAllowed(engine, path)) return [];
  const found = candidates(engine, text, path);
  if (found.length === 0) return [];
  const regions = publicRegions(text);
  const lines = new LineCursor(text);
  const hasInline = hasInlineAllow(text);
  const findings: Finding[] = [];
  for (const c of resolveOverlaps(found)) {
    if (insidePublic(text, regions, c.start, c.end)) continue;
    const { line, column, lineStart } = lines.at(c.start);
    if (hasInline && inlineAllowed(text, lineStart, c.end)) continue;
    findings.push({ file: path, line, column, kind: c.rule.kind, rule: c.rule.id, fingerprint: fingerprintSecret(c.secret, engine.fingerprintKey), secret: c.secret, shown: shownSecret(c.secret, c.rule) });
  }
  return findings;
}
