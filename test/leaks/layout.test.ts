import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

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

describe('leak capability layout', () => {
  it('a local scan loads the scanner only: no responder, store, audit, keys or server module', () => {
    const { modules, packages } = loadGraph(join(root, 'src', 'cli', 'scan.ts'));
    expect(modules).toContain('src/leaks/scan/scanner.ts');
    expect(modules.filter((m) => /^src\/(leaks\/respond|leaks\/watch|store|audit|keys|principals|oauth|signing|runtime|http)\b/.test(m))).toEqual([]);
    expect(packages.filter((p) => ['fastify', 'pg', 'better-sqlite3', 'pino'].includes(p))).toEqual([]);
  });

  // Which file owns leak_findings, leak_sightings and leak_watches (and that leaks code names no
  // other capability's table) is checked for the whole tree by test/arch/ownership.test.ts.
});
