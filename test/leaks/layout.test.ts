import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

/** What a module loads when it runs: its imports and re-exports, except `import type` / `export type`. */
function runtimeImports(file: string): string[] {
  const text = withoutComments(readFileSync(file, 'utf8'));
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

/** Every source file `entry` loads, transitively, and the packages it loads. */
function loadGraph(entry: string): { modules: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) stack.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      else packages.add(spec);
    }
  }
  return { modules: [...seen].map((f) => relative(root, f)).sort(), packages: [...packages].sort() };
}

/** Files whose code (not comments) names `table` in SQL. */
function sqlNaming(table: string, under: string): string[] {
  const sql = new RegExp(`\\b(?:FROM|JOIN|INTO|UPDATE|TABLE|REFERENCES)\\s+${table}\\b`, 'i');
  return files(join(root, under))
    .filter((file) => sql.test(withoutComments(readFileSync(file, 'utf8'))))
    .map((file) => relative(root, file))
    .sort();
}

describe('leak capability layout', () => {
  it('a local scan loads the scanner only: no responder, store, audit, keys or server module', () => {
    const { modules, packages } = loadGraph(join(root, 'src', 'cli', 'scan.ts'));
    expect(modules).toContain('src/leaks/scan/scanner.ts');
    expect(modules.filter((m) => /^src\/(leaks\/respond|leaks\/watch|store|audit|keys|principals|oauth|signing|runtime|http)\b/.test(m))).toEqual([]);
    expect(packages.filter((p) => ['fastify', 'pg', 'better-sqlite3', 'pino'].includes(p))).toEqual([]);
  });

  it('the findings store is the only leaks code naming leak_findings and leak_sightings in SQL; the watch module owns leak_watches', () => {
    const migrations = 'src/leaks/migrations.ts';
    expect(sqlNaming('leak_findings', 'src')).toEqual([migrations, 'src/leaks/respond/findings-store.ts'].sort());
    expect(sqlNaming('leak_sightings', 'src')).toEqual([migrations, 'src/leaks/respond/findings-store.ts'].sort());
    const watches = sqlNaming('leak_watches', 'src').filter((f) => f !== migrations);
    expect(watches.length).toBeGreaterThan(0);
    expect(watches.filter((f) => !/^src\/leaks\/watch(\.ts|\/)/.test(f))).toEqual([]);
  });

  it('leaks code names no other capability table in SQL (keys and principals are reached through their services)', () => {
    for (const table of ['api_keys', 'principals', 'exposures']) expect(sqlNaming(table, 'src/leaks'), table).toEqual([]);
  });
});
