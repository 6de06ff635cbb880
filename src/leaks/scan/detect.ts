import { hash } from 'node:crypto';
import { hasInlineAllow, INLINE_ALLOW, insidePublic, isPlaceholder, publicRegions } from './allow.js';
import type { AllowSpec, EngineConfig, Finding, RuleSpec } from './types.js';
import { shannonEntropy, VALIDATOR_TABLE, type Validator } from './validators.js';

/** Validators whose check is strong enough that placeholder heuristics would only lose findings. */
const STRUCTURAL = new Set(['keyturn', 'github-classic', 'private-key', 'jwt']);

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
  /** Lower-cased keyword → indexes of the rules it triggers. */
  readonly keywordRules: ReadonlyMap<string, readonly number[]>;
  /** Rules without keywords: always run. */
  readonly alwaysRules: readonly number[];
  /** Lower-cased keyword → indexes of the rules triggered where it occurs (its own and those of its prefixes). */
  readonly keywordTriggers: ReadonlyMap<string, readonly number[]>;
  readonly allow: CompiledAllow;
  readonly maxFileBytes: number;
  /** Prefilter regexes by the set of rules still untriggered, built as they are met. */
  readonly pendingRegexes: Map<number | string, RegExp | null>;
}

function compileAllow(spec: AllowSpec | undefined): CompiledAllow {
  return {
    paths: (spec?.paths ?? []).map((p) => new RegExp(p)),
    regexes: (spec?.regexes ?? []).map((p) => new RegExp(p)),
    stopwords: (spec?.stopwords ?? []).map((s) => s.toLowerCase()),
  };
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
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
  const keywordRules = new Map<string, number[]>();
  const alwaysRules: number[] = [];
  rules.forEach((rule, index) => {
    if (rule.keywords.length === 0) alwaysRules.push(index);
    for (const kw of rule.keywords) {
      const key = kw.toLowerCase();
      const list = keywordRules.get(key) ?? [];
      if (!list.includes(index)) list.push(index);
      keywordRules.set(key, list);
    }
  });
  const keywords = [...keywordRules.keys()].sort((a, b) => b.length - a.length);
  const keywordTriggers = new Map<string, number[]>();
  for (const keyword of keywords) {
    const triggers = new Set<number>();
    for (const [other, indexes] of keywordRules) if (keyword.startsWith(other)) for (const i of indexes) triggers.add(i);
    keywordTriggers.set(keyword, [...triggers]);
  }
  return {
    rules,
    keywordRules,
    alwaysRules,
    keywordTriggers,
    allow: compileAllow(config.allow),
    maxFileBytes: config.maxFileBytes,
    pendingRegexes: new Map(),
  };
}

const PENDING_CACHE_LIMIT = 512;

/**
 * The set of rules not yet triggered in a text: a bit mask while there are at most 30 rules
 * (the usual case, and a cheap cache key), else a string of 0s and 1s.
 */
type Pending = number | string;

function initialPending(engine: CompiledEngine): Pending {
  const rules = engine.rules;
  if (rules.length <= 30) {
    let mask = 0;
    for (let i = 0; i < rules.length; i++) if (rules[i]!.keywords.length > 0) mask |= 1 << i;
    return mask;
  }
  return rules.map((r) => (r.keywords.length > 0 ? '1' : '0')).join('');
}

function isPending(pending: Pending, index: number): boolean {
  return typeof pending === 'number' ? (pending & (1 << index)) !== 0 : pending.charCodeAt(index) === 0x31;
}

function withoutRule(pending: Pending, index: number): Pending {
  return typeof pending === 'number' ? pending & ~(1 << index) : `${pending.slice(0, index)}0${pending.slice(index + 1)}`;
}

/** One case-insensitive alternation of the keywords of the rules in `pending` (longest first). */
function pendingKeywordRegex(engine: CompiledEngine, pending: Pending): RegExp | null {
  const cached = engine.pendingRegexes.get(pending);
  return cached === undefined ? buildPendingRegex(engine, pending) : cached;
}

function buildPendingRegex(engine: CompiledEngine, pending: Pending): RegExp | null {
  const keywords: string[] = [];
  for (const [keyword, indexes] of engine.keywordRules) if (indexes.some((i) => isPending(pending, i))) keywords.push(keyword);
  keywords.sort((a, b) => b.length - a.length);
  const re = keywords.length ? new RegExp(keywords.map(escape).join('|'), 'gi') : null;
  if (engine.pendingRegexes.size < PENDING_CACHE_LIMIT) engine.pendingRegexes.set(pending, re);
  return re;
}

/**
 * Indexes of the rules whose keywords occur (case-insensitively) anywhere in `text`, ascending.
 * One alternation of the keywords of the rules not yet triggered is searched, so that once a
 * frequent keyword (`token`, `password`) has triggered its rule the rest of the text is searched
 * for the others only, with one `exec` per newly triggered rule.
 */
export function triggeredRules(engine: CompiledEngine, text: string): number[] {
  const hit: number[] = [...engine.alwaysRules];
  let pending = initialPending(engine);
  let re = pendingKeywordRegex(engine, pending);
  let from = 0;
  while (re) {
    re.lastIndex = from;
    const m = re.exec(text);
    if (m === null) break;
    const triggers = engine.keywordTriggers.get(m[0].toLowerCase());
    if (triggers) {
      for (const index of triggers) {
        if (isPending(pending, index)) {
          pending = withoutRule(pending, index);
          hit.push(index);
        }
      }
    }
    // Keywords may overlap ("apikey" / "eyj"): resume right after the match's first character.
    from = m.index + 1;
    re = pendingKeywordRegex(engine, pending);
  }
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

/** SHA-256 of the secret, hex: a finding's fingerprint (for keyturn secrets, equal to its stored digest). */
export function fingerprintOf(secret: string): string {
  return hash('sha256', secret, 'hex');
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
    findings.push({ file: path, line, column, kind: c.rule.kind, rule: c.rule.id, fingerprint: fingerprintOf(c.secret), secret: c.secret });
  }
  return findings;
}
