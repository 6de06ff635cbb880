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

interface CompiledRule {
  readonly spec: RuleSpec;
  /** Global: finds the matches. */
  readonly regex: RegExp;
  /** Sticky with match indices: locates the secret inside a kept match. */
  readonly located: RegExp;
  readonly validate: Validator | undefined;
  readonly allow: CompiledAllow;
  readonly priority: number;
  readonly placeholderCheck: boolean;
}

/** Rules compiled once per thread: regexes, the keyword prefilter and allowlists. */
export interface CompiledEngine {
  readonly rules: readonly CompiledRule[];
  /** One case-insensitive alternation of every rule keyword. */
  readonly keywordRegex: RegExp | undefined;
  /** Lower-cased keyword → indexes of the rules it triggers. */
  readonly keywordRules: ReadonlyMap<string, readonly number[]>;
  /** Rules without keywords: always run. */
  readonly alwaysRules: readonly number[];
  /** Lower-cased keyword → indexes of the rules triggered where it occurs (its own and those of its prefixes). */
  readonly keywordTriggers: ReadonlyMap<string, readonly number[]>;
  readonly allow: CompiledAllow;
  readonly maxFileBytes: number;
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
    spec,
    regex: new RegExp(spec.pattern, `g${userFlags(spec)}`),
    located: new RegExp(spec.pattern, `dy${userFlags(spec)}`),
    validate: spec.validate ? VALIDATOR_TABLE[spec.validate] : undefined,
    allow: compileAllow(spec.allow),
    priority: spec.priority ?? 50,
    placeholderCheck: !spec.validate || !STRUCTURAL.has(spec.validate),
  }));
  const keywordRules = new Map<string, number[]>();
  const alwaysRules: number[] = [];
  rules.forEach((rule, index) => {
    if (rule.spec.keywords.length === 0) alwaysRules.push(index);
    for (const kw of rule.spec.keywords) {
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
    keywordRegex: keywords.length ? new RegExp(keywords.map(escape).join('|'), 'gi') : undefined,
    keywordRules,
    alwaysRules,
    keywordTriggers,
    allow: compileAllow(config.allow),
    maxFileBytes: config.maxFileBytes,
  };
}

/** Keyword regexes by the set of rules still untriggered (see {@link triggeredRules}). */
const keywordRegexCache = new WeakMap<CompiledEngine, Map<number | string, RegExp | null>>();
const KEYWORD_CACHE_LIMIT = 512;

/** One case-insensitive alternation of the keywords of the rules flagged in `pending` (longest first). */
function pendingKeywordRegex(engine: CompiledEngine, pending: readonly boolean[]): RegExp | null {
  let cache = keywordRegexCache.get(engine);
  if (!cache) {
    cache = new Map();
    keywordRegexCache.set(engine, cache);
  }
  let key: number | string = 0;
  if (pending.length <= 30) {
    for (let i = 0; i < pending.length; i++) if (pending[i]) key |= 1 << i;
  } else key = pending.map((flag) => (flag ? '1' : '0')).join('');
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const keywords: string[] = [];
  for (const [keyword, indexes] of engine.keywordRules) if (indexes.some((i) => pending[i] === true)) keywords.push(keyword);
  keywords.sort((a, b) => b.length - a.length);
  const re = keywords.length ? new RegExp(keywords.map(escape).join('|'), 'gi') : null;
  if (cache.size < KEYWORD_CACHE_LIMIT) cache.set(key, re);
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
  if (!engine.keywordRegex) return hit.sort((a, b) => a - b);
  const pending = engine.rules.map((r) => r.spec.keywords.length > 0);
  let re = pendingKeywordRegex(engine, pending);
  let from = 0;
  while (re) {
    re.lastIndex = from;
    const m = re.exec(text);
    if (m === null) break;
    for (const index of engine.keywordTriggers.get(m[0].toLowerCase()) ?? []) {
      if (pending[index]) {
        pending[index] = false;
        hit.push(index);
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
function secretGroupOf(m: RegExpExecArray, group: number | undefined): number {
  if (group !== undefined) return m[group] === undefined ? 0 : group;
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

function acceptable(engine: CompiledEngine, rule: CompiledRule, raw: string, path: string): string | undefined {
  // The rule's own check first: it drops most matches (references, hashes, wrong checksums)
  // more cheaply than counting characters for the entropy floor.
  const secret = rule.validate ? rule.validate(raw) : raw;
  if (secret === undefined) return undefined;
  if (rule.spec.entropy !== undefined && shannonEntropy(raw) < rule.spec.entropy) return undefined;
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
      const group = secretGroupOf(m, rule.spec.secretGroup);
      const raw = m[group] ?? m[0];
      const secret = acceptable(engine, rule, raw, path);
      if (secret === undefined) continue;
      const offset = groupOffset(rule, text, m, group);
      const start = rule.spec.locate === 'match' ? m.index : offset;
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
    findings.push({ file: path, line, column, kind: c.rule.spec.kind, rule: c.rule.spec.id, fingerprint: fingerprintOf(c.secret), secret: c.secret });
  }
  return findings;
}
