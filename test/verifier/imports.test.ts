import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const verifierDir = join(root, 'src/verifier');
const coreDir = join(root, 'src/core');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier of static imports/exports (type-only included), dynamic imports and require calls. */
export function specifiers(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\s*\(\s*[^'"\s)]/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) found.push(match[1] ?? '<dynamic expression>');
  }
  return found;
}

const inside = (path: string, dir: string) => !relative(dir, path).startsWith('..');
const builtins = new Set(builtinModules);
/** Packages the verifier may import: `jose` verifies JWT access tokens (RFC 9068) locally. */
const ALLOWED_PACKAGES = new Set(['jose']);

describe('keyturn/verifier stands alone', () => {
  it('the parser finds every kind of import', () => {
    expect(
      specifiers(`import a from 'a';\nimport type { B } from "b";\nimport * as c from 'c';\nimport 'd';\nexport { e } from 'e';\nexport * from 'f';\nconst g = await import('g');\n// import x from 'commented';\nimport {\n  h,\n  type H,\n} from 'h';`).sort(),
    ).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('src/verifier imports only src/verifier, src/core (transitively), node built-ins and jose', () => {
    const seen = new Set<string>();
    const problems: string[] = [];
    const queue = files(verifierDir);
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const where = relative(root, file);
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
          if (!inside(target, verifierDir) && !inside(target, coreDir)) problems.push(`${where} → ${spec}`);
          else queue.push(target);
        } else if (!spec.startsWith('node:') && !builtins.has(spec) && !ALLOWED_PACKAGES.has(spec)) {
          problems.push(`${where} → ${spec}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect([...seen].some((f) => inside(f, coreDir))).toBe(true);
  });
});
