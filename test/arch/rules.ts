import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

/**
 * The architecture rules as pure checkers over `{ file, text }` pairs (paths relative to the repo
 * root, POSIX separators), so the tests run them both on the real tree and on planted violations.
 */
export interface Source {
  readonly file: string;
  readonly text: string;
}

export const root = join(import.meta.dirname, '..', '..');

/** The capability folders of `src/`: the inward code the rules below govern. */
export const CAPABILITIES = ['core', 'audit', 'principals', 'keys', 'oauth', 'signing', 'jobs', 'leaks', 'binding', 'rotation'] as const;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every `.ts` file under `src/` with its text. */
export function sources(): Source[] {
  return walk(join(root, 'src')).map((path) => ({ file: relative(root, path).split('\\').join('/'), text: readFileSync(path, 'utf8') }));
}

/**
 * The string and template literals of TypeScript source, comments and regular-expression literals
 * skipped (a template's `${…}` stays in its text). A small lexer, not a regex, so a quote inside a
 * regex or a comment never pairs with a quote elsewhere.
 */
export function stringLiterals(src: string): string[] {
  const out: string[] = [];
  const n = src.length;
  let i = 0;
  let prev = '';
  const quoted = (): void => {
    const q = src[i];
    let j = i + 1;
    while (j < n && src[j] !== q && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
    out.push(src.slice(i + 1, j));
    i = j + 1;
  };
  const template = (): void => {
    let text = '';
    i++;
    while (i < n && src[i] !== '`') {
      if (src[i] === '\\') {
        text += src.slice(i, i + 2);
        i += 2;
      } else if (src[i] === '$' && src[i + 1] === '{') {
        i += 2;
        text += '${';
        let depth = 1;
        while (i < n) {
          const c = src[i]!;
          if (c === '{') depth++;
          else if (c === '}' && --depth === 0) break;
          if (c === '`' || c === "'" || c === '"') {
            const start = i;
            if (c === '`') template();
            else quoted();
            text += src.slice(start, i);
            continue;
          }
          text += c;
          i++;
        }
        text += '}';
        i++;
      } else {
        text += src[i];
        i++;
      }
    }
    i++;
    out.push(text);
  };
  while (i < n) {
    const c = src[i]!;
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      if (c === '`') template();
      else quoted();
      prev = 'a';
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || /\b(?:return|typeof|case|of|in)\s*$/.test(src.slice(Math.max(0, i - 8), i)))) {
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== '\n') {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j++;
      }
      i = j + 1;
      prev = 'a';
    } else {
      if (!/\s/.test(c)) prev = /[\w$)\]]/.test(c) ? 'a' : c;
      i++;
    }
  }
  return out;
}

/** The literals of a file that hold SQL (a statement keyword in capitals). */
export function sqlOf(text: string): string[] {
  return stringLiterals(text).filter((literal) => /\b(?:SELECT|INSERT|UPDATE|DELETE|FROM|JOIN|INTO|CREATE|ALTER|DROP)\b/.test(literal));
}

/** Each table a capability's `migrations.ts` creates, with that capability. */
export function tablesFromMigrations(all: readonly Source[]): Map<string, string> {
  const tables = new Map<string, string>();
  for (const { file, text } of all) {
    const match = /^src\/([^/]+)\/migrations\.ts$/.exec(file);
    if (!match) continue;
    for (const sql of sqlOf(text)) for (const m of sql.matchAll(/\bCREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)) tables.set(m[1]!, match[1]!);
  }
  return tables;
}

/**
 * Table owners: a table's name may appear in SQL only in its owner file and in the migrations of
 * the capability that creates it (another migration may name it only in a foreign key,
 * `REFERENCES table`). Returns one line per offence.
 */
export function tableOwnerViolations(all: readonly Source[], owners: Readonly<Record<string, string>>, creators: ReadonlyMap<string, string>): string[] {
  const offences: string[] = [];
  for (const { file, text } of all) {
    const migration = /^src\/([^/]+)\/migrations\.ts$/.exec(file)?.[1];
    const sql = sqlOf(text)
      .map((literal) => (migration === undefined ? literal : literal.replace(/\bREFERENCES\s+\w+/g, '')))
      .join('\n');
    for (const [table, owner] of Object.entries(owners)) {
      if (file === owner || (migration !== undefined && creators.get(table) === migration)) continue;
      if (new RegExp(`\\b${table}\\b`).test(sql)) offences.push(`${file} names ${table} in SQL (owner: ${owner})`);
    }
  }
  return offences;
}

/** The module specifiers a file imports or re-exports, type-only ones included. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
  return [
    ...code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]/g),
    ...code.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
    ...code.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

/**
 * Cross-capability imports: a file in capability folder A may import from another capability
 * folder B only through B's public entry, `src/B/index.ts` (anyone may import any `core/` module:
 * core is the pure shared base). Edges (http, cli, runtime, verifier, store, config, the package
 * entry) are not governed. Returns one line per offence.
 */
export function crossCapabilityViolations(all: readonly Source[]): string[] {
  const caps: readonly string[] = CAPABILITIES;
  const offences: string[] = [];
  for (const { file, text } of all) {
    const from = file.split('/')[1]!;
    if (!file.startsWith('src/') || !caps.includes(from)) continue;
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      const to = target.split('/')[1]!;
      if (!target.startsWith('src/') || to === from || to === 'core' || !caps.includes(to)) continue;
      if (target !== `src/${to}/index.ts`) offences.push(`${file} imports ${spec} (use ../${to}/index.js)`);
    }
  }
  return offences;
}

/** What a file of the HTTP edge must never do: each pattern names one way of reaching behind the services. */
export const HTTP_EDGE_FORBIDDEN: ReadonlyArray<readonly [string, RegExp]> = [
  ['opens a transaction', /\.transaction\(/],
  ['writes an event', /\bappendEvent\b/],
  ['follows a raw change channel', /\.subscribe\(|_CHANNEL\b/],
  ['reads the store', /(?<![-\w])store\b/],
  ['reads the context', /\bctx\b/],
];

/**
 * The HTTP edge holds services only: a file under `src/http` imports neither the runtime nor the
 * store, and its code (comments left out) does none of {@link HTTP_EDGE_FORBIDDEN}. Returns one
 * line per offence.
 */
export function httpEdgeViolations(all: readonly Source[]): string[] {
  const offences: string[] = [];
  for (const { file, text } of all) {
    if (!file.startsWith('src/http/')) continue;
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
    for (const spec of importsOf(text)) if (/(^|\/)(runtime|store)\//.test(spec)) offences.push(`${file} imports ${spec}`);
    for (const [what, pattern] of HTTP_EDGE_FORBIDDEN) if (pattern.test(code)) offences.push(`${file} ${what}`);
  }
  return offences;
}
