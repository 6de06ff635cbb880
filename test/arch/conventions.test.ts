import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventsReference } from '../../src/audit/docs.js';
import { configurationReference } from '../../src/config/docs.js';
import { KEYTURN_ERROR_CODES } from '../../src/core/errors.js';
import { WIRE_ERRORS } from '../../src/http/errors.js';
import { MIGRATIONS } from '../../src/runtime/open.js';

const root = join(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Source without block and line comments (good enough for our own files). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => m[1]!,
  );
}

describe('architecture', () => {
  const EDGE_ONLY = ['fastify', 'pg', 'better-sqlite3'];
  const inward = ['core', 'keys', 'principals', 'audit', 'oauth', 'signing', 'rotation', 'binding', 'leaks', 'jobs'];

  it('keeps core and capability folders free of fastify, pg, better-sqlite3 and process.env', () => {
    const offenders: string[] = [];
    for (const folder of inward) {
      let list: string[] = [];
      try {
        list = files(join(root, 'src', folder));
      } catch {
        continue;
      }
      for (const file of list) {
        for (const spec of imports(file)) if (EDGE_ONLY.includes(spec)) offenders.push(`${relative(root, file)} imports ${spec}`);
        if (/process\.env/.test(withoutComments(readFileSync(file, 'utf8')))) offenders.push(`${relative(root, file)} reads process.env`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps core free of every other folder of ours', () => {
    const offenders = files(join(root, 'src', 'core')).flatMap((file) =>
      imports(file)
        .filter((spec) => spec.startsWith('..'))
        .map((spec) => `${relative(root, file)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});

describe('error codes', () => {
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  it.each(KEYTURN_ERROR_CODES)('%s is documented and mapped to the wire', (code) => {
    expect(doc).toMatch(new RegExp(`\\| \`${code}\` \\| ${WIRE_ERRORS[code].status} \\| \`${WIRE_ERRORS[code].error}\` \\|`));
  });
  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/\| `(ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...KEYTURN_ERROR_CODES].sort());
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md is generated from the schema and current (npm run docs:config)', () => {
    expect(readFileSync(join(root, 'docs', 'configuration.md'), 'utf8')).toBe(configurationReference());
  });
});

describe('event reference', () => {
  it('docs/events.md is generated from the event catalog and current (npm run docs:events)', () => {
    expect(readFileSync(join(root, 'docs', 'events.md'), 'utf8')).toBe(eventsReference());
  });
});

describe('migrations', () => {
  it('have unique ids in order', () => {
    const ids = MIGRATIONS.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^\d{4}_[a-z0-9_]+$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });
});
