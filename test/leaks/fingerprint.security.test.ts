import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { secretDigest } from '../../src/core/secret.js';
import { describeStore } from '../support/stores.js';
import type { TestServer } from '../support/server.js';
import { Fake } from './support/corpus.js';
import { commitFiles, initRepo, scanCli, tempDir } from './support/fixtures.js';
import { dumpDatabase, startLeakServer } from './support/server.js';

/**
 * "Fingerprints that do not reveal weak secrets" (issue 9, item 9). A found password like
 * `Summer2024!` used to be fingerprinted with plain SHA-256, so anyone holding a baseline, JSON or
 * SARIF output, a watch's state or the server's `leak_findings` recovered it with a small dictionary;
 * and the redacted match showed its first characters. Each output is attacked here the way an
 * attacker would: every word of a dictionary, hashed every usual way, looked for in the output.
 */

const WEAK = ['Summer2024!', 'Summer2024!Pw'] as const;

/** A small attacker's dictionary: seasons, months and words, years, usual suffixes (a few thousand). */
function dictionary(): string[] {
  const words = ['summer', 'winter', 'spring', 'autumn', 'fall', 'password', 'welcome', 'admin', 'letmein', 'qwerty', 'monkey', 'dragon', 'january', 'december', 'company', 'secret'];
  const out: string[] = [];
  for (const w of words) {
    for (const word of [w, w[0]!.toUpperCase() + w.slice(1), w.toUpperCase()]) {
      for (let year = 2015; year <= 2026; year++) for (const suffix of ['', '!', '#', '?', '1', '!Pw', '@']) out.push(`${word}${year}${suffix}`);
    }
  }
  return out;
}
const DICTIONARY = dictionary();

/** Every usual unkeyed digest of `word`, as an attacker would look for it. */
function digestsOf(word: string): string[] {
  const forms: string[] = [];
  for (const alg of ['sha256', 'sha1', 'md5', 'sha512']) {
    const d = createHash(alg).update(word, 'utf8').digest();
    forms.push(d.toString('hex'), d.toString('base64'), d.toString('base64url'));
  }
  return forms;
}

/** The dictionary words whose digest (or whose first 4 characters, next to a mask) appear in `text`. */
function crack(text: string): string[] {
  const lower = text.toLowerCase();
  return DICTIONARY.filter(
    (word) => digestsOf(word).some((d) => text.includes(d) || lower.includes(d.toLowerCase())) || text.includes(`${word.slice(0, 4)}*`) || text.includes(word),
  );
}

describe('the attack itself (control)', () => {
  it('recovers a weak password from its plain SHA-256, as the old fingerprints were', () => {
    for (const pw of WEAK) expect(DICTIONARY).toContain(pw);
    expect(crack(JSON.stringify({ fingerprint: secretDigest('Summer2024!') }))).toEqual(['Summer2024!']);
    expect(crack('password  Summ********')).toContain('Summer2024!');
  });
});

const fake = new Fake(4242);
/** A tree holding the weak passwords and a provider token, committed to git (for history scans). */
function leakyRepo(): { dir: string; github: string } {
  const dir = tempDir();
  const github = fake.githubClassic();
  initRepo(dir);
  commitFiles(
    dir,
    {
      'config/app.env': `DATABASE_URL=postgres://app:${WEAK[0]}@db.internal:5432/app\n`,
      'config/mail.yaml': `smtp_password: "${WEAK[1]}"\n`,
      'ci/deploy.yaml': `env:\n  GH_TOKEN: ${github}\n`,
    },
    'config',
    1_700_000_000,
  );
  return { dir, github };
}

const scan = scanCli;

describe('keyturn scan: no output gives a weak secret away', () => {
  let repo: { dir: string; github: string };
  let work: string;
  beforeAll(() => {
    repo = leakyRepo();
    work = tempDir();
  });
  afterAll(() => {
    rmSync(repo.dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('finds the weak passwords (so there is something to give away)', async () => {
    const { code, out } = await scan([repo.dir, '--format', 'json']);
    expect(code).toBe(1);
    const findings = JSON.parse(out) as { kind: string; fingerprint: string; match: string }[];
    expect(findings.map((f) => f.kind).sort()).toEqual(['connection-string', 'generic', 'github']);
  });

  it.each(['json', 'sarif', 'text'] as const)('%s output: no fingerprint a dictionary reverses, no first characters', async (format) => {
    const { out } = await scan([repo.dir, '--format', format]);
    expect(crack(out)).toEqual([]);
  });

  it('a baseline: fingerprints under its own key, kept when it is rewritten; its scan output matches it', async () => {
    const file = join(work, 'baseline.json');
    expect((await scan([repo.dir, '--write-baseline', file])).code).toBe(1);
    const baseline = JSON.parse(readFileSync(file, 'utf8')) as { version: number; key: string; findings: { fingerprint: string }[] };
    expect(baseline.version).toBe(2);
    expect(baseline.key).toMatch(/^[0-9a-f]{64}$/);
    expect(crack(readFileSync(file, 'utf8'))).toEqual([]);
    // Honoured: everything in it is accepted.
    expect((await scan([repo.dir, '--baseline', file])).code).toBe(0);
    // Output made with the baseline uses its key: the same fingerprints, so they can be compared.
    const again = join(work, 'again.json');
    writeFileSync(again, JSON.stringify({ ...baseline, findings: [] }));
    const withKey = JSON.parse((await scan([repo.dir, '--baseline', again, '--format', 'json'])).out) as { fingerprint: string }[];
    expect(withKey.map((f) => f.fingerprint).sort()).toEqual(baseline.findings.map((f) => f.fingerprint).sort());
    // Rewriting keeps the key.
    await scan([repo.dir, '--write-baseline', file]);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { key: string }).key).toBe(baseline.key);
  });

  it('an old (version 1, plain SHA-256) baseline is still honoured, with a warning saying how to rewrite it', async () => {
    const old = join(work, 'old.json');
    const json = JSON.parse((await scan([repo.dir, '--format', 'json', '--no-redact'])).out) as { match: string; rule: string; file: string }[];
    writeFileSync(old, JSON.stringify({ version: 1, findings: json.map((f) => ({ fingerprint: secretDigest(f.match), rule: f.rule, file: f.file })) }));
    const { code, err } = await scan([repo.dir, '--baseline', old]);
    expect(code).toBe(0);
    expect(err).toContain('version 1 baseline');
    expect(err).toContain(`--write-baseline ${old}`);
    expect(err.split('\n').filter(Boolean)).toHaveLength(1);
    // The rewrite it suggests yields a keyed baseline.
    await scan([repo.dir, '--write-baseline', old]);
    const rewritten = readFileSync(old, 'utf8');
    expect(JSON.parse(rewritten)).toMatchObject({ version: 2, key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(crack(rewritten)).toEqual([]);
  });

  it('an incremental history scan: its state files and findings are stable across runs and reverse to nothing', async () => {
    const stateDir = join(work, 'state');
    const first = await scan([repo.dir, '--history', '--state-dir', stateDir, '--format', 'json']);
    expect(first.code).toBe(1);
    // Already reported: the same fingerprints next run (the state directory keeps the key).
    expect((await scan([repo.dir, '--history', '--state-dir', stateDir, '--format', 'json'])).code).toBe(0);
    const files = readdirSync(stateDir).map((f) => readFileSync(join(stateDir, f), 'utf8'));
    expect(files.join('\n')).toMatch(/[0-9a-f]{64}/);
    expect(crack(files.join('\n'))).toEqual([]);
    expect(crack(first.out)).toEqual([]);
  });
});

describeStore('the server: no finding gives a weak secret away', (kind) => {
  let stop: () => Promise<void>;
  let server: TestServer;
  let repo: { dir: string; github: string };
  beforeAll(async () => {
    ({ server, stop } = await startLeakServer(kind));
    repo = leakyRepo();
  });
  afterAll(async () => {
    await stop();
    rmSync(repo.dir, { recursive: true, force: true });
  });

  it('a plain SHA-256 fingerprint reported by an old client is stored keyed: not in leak_findings, events or the API', async () => {
    const res = await server.api('POST', '/v1/leaks/findings', {
      source: '/srv/app',
      findings: WEAK.map((pw, i) => ({ fingerprint: secretDigest(pw), kind: 'connection-string', rule: 'connection-string', file: `config/${i}.env`, line: 1 })),
    });
    expect(res.status).toBe(200);
    // The outcome names the fingerprint as sent, so the sender can match its findings.
    expect(res.body.items.map((o: { fingerprint: string }) => o.fingerprint)).toEqual(WEAK.map((pw) => secretDigest(pw)));
    const listed = await server.api('GET', '/v1/leaks/findings');
    expect(listed.body.items).toHaveLength(2);
    expect(crack(JSON.stringify(listed.body))).toEqual([]);
    expect(crack(JSON.stringify((await server.api('GET', '/v1/events?limit=1000')).body))).toEqual([]);
    expect(crack(await dumpDatabase(server))).toEqual([]);
    // Reported again: recognised as the same findings (stable keyed fingerprints), nothing new.
    const again = await server.api('POST', '/v1/leaks/findings', {
      findings: WEAK.map((pw) => ({ fingerprint: secretDigest(pw), kind: 'connection-string', rule: 'connection-string', file: 'x.env' })),
    });
    expect(again.body.items.map((o: { new: boolean }) => o.new)).toEqual([false, false]);
  });

  it('scan --respond and a watch of the repository leave nothing a dictionary reverses in the database', async () => {
    const sent = await scan([repo.dir, '--respond', '--url', server.url, '--token', server.adminKey]);
    expect(sent.code).toBe(1);
    expect(crack(sent.out)).toEqual([]);
    const watch = await server.api('POST', '/v1/leaks/watches', { source: repo.dir, history: true, every: '1h' });
    expect(watch.status, JSON.stringify(watch.body)).toBe(201);
    // A new watch is due at once and wakes the scheduler: run it by hand after that first run, not
    // during it (which is a 409 by design).
    await vi.waitFor(async () => expect((await server.api('GET', `/v1/leaks/watches/${watch.body.id}`)).body.runs).toBeGreaterThanOrEqual(1), { timeout: 30_000, interval: 50 });
    const ran = await server.api('POST', `/v1/leaks/watches/${watch.body.id}/run`);
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    const findings = await server.api('GET', '/v1/leaks/findings');
    expect(findings.body.items.length).toBeGreaterThanOrEqual(3);
    const dump = await dumpDatabase(server);
    expect(dump).toContain('leak_watches');
    expect(crack(dump)).toEqual([]);
    expect(crack(JSON.stringify(findings.body))).toEqual([]);
  });
});
