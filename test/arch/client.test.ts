import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf } from './rules.js';

const root = resolve(import.meta.dirname, '../..');
const clientDir = join(root, 'src/client');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const inside = (path: string, dir: string) => !relative(dir, path).startsWith('..');
const builtins = new Set(builtinModules);

/**
 * What every module of a standalone library may import, transitively from its folder: its own
 * files, node built-ins, and `allowed` folders and packages.
 */
function escapes(dir: string, allowedDirs: readonly string[], allowedPackages: ReadonlySet<string>): { problems: string[]; seen: Set<string> } {
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue = files(dir);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // A require() or an import() of a computed name would slip past the specifier scan: forbid both.
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
    if (/\brequire\s*\(|\bimport\s*\(\s*[^'"\s)]/.test(code)) problems.push(`${relative(root, file)} → a require() or computed import()`);
    for (const spec of importsOf(text)) {
      const where = relative(root, file);
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (![dir, ...allowedDirs].some((d) => inside(target, d))) problems.push(`${where} → ${spec}`);
        else queue.push(target);
      } else if (!spec.startsWith('node:') && !builtins.has(spec) && !allowedPackages.has(spec)) {
        problems.push(`${where} → ${spec}`);
      }
    }
  }
  return { problems, seen };
}

describe('keyturn/client stands alone', () => {
  it('src/client imports only src/client and node built-ins: no server code, no package', () => {
    const { problems, seen } = escapes(clientDir, [], new Set());
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('the check catches a server import (it can fail)', () => {
    const { problems } = escapes(join(root, 'src/cli'), [], new Set());
    expect(problems.length).toBeGreaterThan(0);
  });

  it('is published as the package export keyturn/client, built from src/client', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    expect(pkg.exports['./client']).toEqual({ types: './dist/client/index.d.ts', default: './dist/client/index.js' });
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './client', './verifier']);
  });
});
