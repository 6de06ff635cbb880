import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Whether Node `version` (e.g. `20.19.0`) meets an `engines.node` range of the forms the lockfile uses. */
function satisfies(version: string, range: string): boolean {
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
  return range.split('||').some((part) => {
    const text = part.trim();
    if (text === '*' || text === '') return true;
    const x = /^(\d+)\.x$/.exec(text);
    if (x) return Number(x[1]) === major;
    const ge = /^>=\s*(\d+)(?:\.(\d+|x))?(?:\.(\d+))?$/.exec(text);
    if (ge) {
      const want = [Number(ge[1]), ge[2] === undefined || ge[2] === 'x' ? 0 : Number(ge[2]), ge[3] === undefined ? 0 : Number(ge[3])];
      const have = [major, minor, patch];
      for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i]! > want[i]!;
      return true;
    }
    throw new Error(`engines range not understood: ${range}`);
  });
}

describe('dependencies fit the Node versions keyturn supports', () => {
  it('every package npm installs for users accepts Node 20.19 (no EBADENGINE warning on install)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    const lowest = /^>=(\d+\.\d+)/.exec(pkg.engines.node)![1]!;
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([, p]) => !p.dev && p.engines?.node !== undefined && !satisfies(`${lowest}.0`, p.engines.node))
      .map(([path, p]) => `${path} wants node ${p.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});
