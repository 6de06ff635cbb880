/**
 * The keyword prefilter: which rules' keywords occur in a text, case-insensitively, in one pass.
 *
 * An Aho–Corasick automaton over the rules' keywords, with a dense transition table over the
 * keywords' own alphabet: each character of the text costs one table lookup, however many
 * keywords there are. (An alternation regex of the keywords costs more per character the more
 * keywords it holds, and with a hundred providers' keywords it cost more than all the rules'
 * regexes together.) Every occurrence of every keyword is seen, overlapping ones and those that
 * are prefixes or suffixes of others included.
 */

/** Alphabet classes are 16-bit; class 0 is every character that occurs in no keyword. */
const NONE = 0;

/** A compiled keyword set. */
export interface KeywordAutomaton {
  /** Character code unit → alphabet class (case-folded); 0 for characters in no keyword. */
  readonly classOf: Uint16Array;
  readonly alphabet: number;
  /**
   * `delta[row + class]` → the next state's row (`state * alphabet`), bitwise-negated (`~row`)
   * when reaching that state triggers rules: the scan needs one lookup and one sign test per
   * character.
   */
  readonly delta: Int32Array;
  /** Rules triggered on reaching a state: `outputs[outStart[s] .. outStart[s + 1]]`. */
  readonly outStart: Int32Array;
  readonly outputs: Int32Array;
  /** Number of distinct rules that have keywords (the scan stops once all are triggered). */
  readonly ruleCount: number;
}

/** Lower and upper case of a code unit, as the regex `i` flag folds ASCII and most letters. */
function caseVariants(c: string): string[] {
  return [...new Set([c, c.toLowerCase(), c.toUpperCase()].filter((v) => v.length === 1))];
}

/**
 * Builds the automaton for `keywords[i]` → rule `rules[i]` (several keywords may name the same
 * rule and the same keyword several rules).
 */
export function buildKeywordAutomaton(entries: readonly { readonly keyword: string; readonly rule: number }[]): KeywordAutomaton {
  const classOf = new Uint16Array(65536);
  let alphabet = 1;
  for (const { keyword } of entries) {
    for (const c of keyword.toLowerCase()) {
      const code = c.charCodeAt(0);
      if (classOf[code] !== NONE) continue;
      const cls = alphabet++;
      for (const v of caseVariants(c)) classOf[v.charCodeAt(0)] = cls;
    }
  }
  // The trie, straight into the dense table: delta[state * alphabet + class] → state, -1 where the
  // trie has no edge yet. (Typed arrays, not a Map per state: this runs at the start of every
  // scan, a pre-commit hook's included, before any of it is optimised.)
  let capacity = 1;
  for (const { keyword } of entries) capacity += keyword.length;
  let delta = new Int32Array(capacity * alphabet).fill(-1);
  const out: number[][] = [[]];
  let states = 1;
  for (const { keyword, rule } of entries) {
    let state = 0;
    for (const c of keyword.toLowerCase()) {
      const at = state * alphabet + (classOf[c.charCodeAt(0)] ?? NONE);
      let next = delta[at] ?? -1;
      if (next === -1) {
        next = states++;
        out.push([]);
        delta[at] = next;
      }
      state = next;
    }
    const own = out[state] ?? [];
    if (!own.includes(rule)) own.push(rule);
  }
  delta = delta.subarray(0, states * alphabet);
  // Failure links, breadth first; the dense table follows them so the scan never backtracks.
  const fail = new Int32Array(states);
  const queue = new Int32Array(states);
  let tail = 0;
  for (let cls = 0; cls < alphabet; cls++) {
    const next = delta[cls] ?? -1;
    if (next === -1) delta[cls] = 0;
    else queue[tail++] = next;
  }
  for (let head = 0; head < tail; head++) {
    const state = queue[head] ?? 0;
    const f = fail[state] ?? 0;
    const own = out[state] ?? [];
    for (const rule of out[f] ?? []) if (!own.includes(rule)) own.push(rule);
    const row = state * alphabet;
    const failRow = f * alphabet;
    for (let cls = 0; cls < alphabet; cls++) {
      const next = delta[row + cls] ?? -1;
      if (next === -1) {
        delta[row + cls] = delta[failRow + cls] ?? 0;
      } else {
        fail[next] = delta[failRow + cls] ?? 0;
        queue[tail++] = next;
      }
    }
  }
  // Rows instead of state numbers, negated where the target state has outputs.
  for (let i = 0; i < delta.length; i++) {
    const target = delta[i] ?? 0;
    delta[i] = (out[target]?.length ?? 0) > 0 ? ~(target * alphabet) : target * alphabet;
  }
  const outStart = new Int32Array(states + 1);
  const flat: number[] = [];
  for (let s = 0; s < states; s++) {
    outStart[s] = flat.length;
    for (const rule of (out[s] ?? []).sort((a, b) => a - b)) flat.push(rule);
  }
  outStart[states] = flat.length;
  return { classOf, alphabet, delta, outStart, outputs: Int32Array.from(flat), ruleCount: new Set(entries.map((e) => e.rule)).size };
}

/** Scratch: rules seen in the current text (by index), cleared after each use. */
let seen = new Uint8Array(64);

/**
 * Indexes of the rules whose keywords occur in `text`, in the order first met. Stops reading
 * once every rule with keywords has been triggered.
 */
export function keywordHits(automaton: KeywordAutomaton, text: string): number[] {
  const { classOf, alphabet, delta, outStart, outputs, ruleCount } = automaton;
  const hits: number[] = [];
  if (ruleCount === 0) return hits;
  let row = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const next = delta[row + (classOf[text.charCodeAt(i)] as number)] as number;
    if (next >= 0) {
      row = next;
      continue;
    }
    row = ~next;
    const state = row / alphabet;
    const to = outStart[state + 1] as number;
    for (let k = outStart[state] as number; k < to; k++) {
      const rule = outputs[k] as number;
      if (rule >= seen.length) {
        const grown = new Uint8Array(Math.max(rule + 1, seen.length * 2));
        grown.set(seen);
        seen = grown;
      }
      if (seen[rule] === 0) {
        seen[rule] = 1;
        hits.push(rule);
      }
    }
    if (hits.length === ruleCount) break;
  }
  for (const rule of hits) seen[rule] = 0;
  return hits;
}
