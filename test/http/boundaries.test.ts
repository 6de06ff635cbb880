import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const code = (file: string) => readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
const imports = (text: string) => [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);

/**
 * The HTTP edge holds services only: no route reaches the store, writes an event, opens a
 * transaction or follows a raw change channel, and `src/http` never imports the runtime that
 * composes it (no import cycle).
 */
describe('the HTTP edge', () => {
  const sources = files(join(root, 'src', 'http')).map((file) => ({ file: relative(root, file), text: code(file) }));

  it('imports neither the runtime nor the store', () => {
    const offenders = sources.flatMap(({ file, text }) =>
      imports(text)
        .filter((spec) => /(^|\/)(runtime|store)\//.test(spec))
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it.each([
    ['opens a transaction', /\.transaction\(/],
    ['writes an event', /\bappendEvent\b/],
    ['follows a raw change channel', /\.subscribe\(|_CHANNEL\b/],
    ['reads the store', /(?<![-\w])store\b/],
    ['reads the context', /\bctx\b/],
  ])('never %s', (_what, pattern) => {
    expect(sources.filter(({ text }) => pattern.test(text)).map(({ file }) => file)).toEqual([]);
  });
});
