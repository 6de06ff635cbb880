import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceArgument } from '../../src/cli/watch.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('text listings say when more pages follow', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    kt = await startTestServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
    for (const name of ['a', 'b', 'c']) expect((await cli(['principals', 'create', '--kind', 'service', '--name', name], env)).code).toBe(0);
  });
  afterAll(async () => kt.stop());

  it('prints the command for the next page, and following it ends the listing', async () => {
    // The bootstrap admin principal and a, b, c: four principals, pages of three.
    const first = await cli(['principals', 'list', '--limit', '3'], env);
    expect(first.code).toBe(0);
    const more = /\(more: (keyturn principals list --limit 3 --after (prn_\w+))\)$/.exec(first.out);
    expect(more, first.out).not.toBeNull();
    const second = await cli(['principals', 'list', '--limit', '3', '--after', more![2]!], env);
    expect(second.code).toBe(0);
    expect(second.out).not.toContain('(more:');
    const names = [...`${first.out}\n${second.out}`.matchAll(/^prn_\w+\s+service\s+(\w+)/gm)].map((m) => m[1]);
    expect(names.sort()).toEqual(['a', 'b', 'bootstrap', 'c']);
  });

  it('revoking a revoked key says so, and a second key of the same live name is refused with the first one named', async () => {
    const created = await cli(['keys', 'create', '--owner', 'a', '--name', 'ci', '--json'], env);
    const { id } = JSON.parse(created.out) as { id: string };
    const dup = await cli(['keys', 'create', '--owner', 'a', '--name', 'ci'], env);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(new RegExp(`^keyturn: ERR_CONFLICT: a already has a key named 'ci' \\(${id}\\)`));
    expect(await cli(['keys', 'revoke', id], env)).toMatchObject({ code: 0, out: `revoked ${id}` });
    const again = await cli(['keys', 'revoke', id], env);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(new RegExp(`^${id} was already revoked \\(at \\d{4}-.+\\); nothing changed$`));
    expect((await cli(['keys', 'list', '--after', 'bogus'], env)).err).toBe('keyturn: ERR_VALIDATION: after: not a key_ id (key_ and 22 letters and digits)');
  });

  it('a page that is not full names no next page', async () => {
    const all = await cli(['keys', 'list'], env);
    expect(all.code).toBe(0);
    expect(all.out).not.toContain('(more:');
  });
});

describe('watch add sends local paths absolute', () => {
  it.each([
    ['.', '/srv/work'],
    ['repo', '/srv/work/repo'],
    ['../other', '/srv/other'],
    ['./not/here/yet', '/srv/work/not/here/yet'],
    ['/abs/path', '/abs/path'],
    ['https://example.com/r.git', 'https://example.com/r.git'],
    ['git@example.com:org/r.git', 'git@example.com:org/r.git'],
    ['s3://bucket/prefix', 's3://bucket/prefix'],
  ])('%s → %s', (source, sent) => {
    expect(sourceArgument(source, '/srv/work')).toBe(sent);
  });
});
