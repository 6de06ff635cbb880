import { describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/core/secret.js';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { rulesFileSchema } from '../../src/leaks/scan/rules-file.js';
import { compileEngine, detect, fingerprintOf, shownSecret } from '../../src/leaks/scan/detect.js';
import { isIgnored, parseGitignore } from '../../src/leaks/scan/gitignore.js';
import { redact } from '../../src/leaks/scan/report.js';
import { githubClassicChecksumOk } from '../../src/leaks/scan/validators.js';
import { Fake } from './support/corpus.js';

const config = buildEngineConfig();
const engine = compileEngine(config);
const fake = new Fake(99);
const ctx = { random: (n: number) => fake.bytes(n) };

describe('keyturn secrets', () => {
  it('reports a keyturn secret of any prefix under the configured root, confirmed by its checksum', () => {
    for (const prefix of ['kt_live', 'kt_test', 'ktr', 'kt']) {
      const secret = generateSecret(prefix, ctx);
      const [f] = detect(engine, `KEY=${secret}\n`, 'a.env');
      expect(f).toMatchObject({ kind: 'keyturn', rule: 'keyturn-secret', line: 1, column: 5, fingerprint: fingerprintOf(secret, config.fingerprintKey) });
    }
  });

  it('never reports a look-alike with a wrong checksum, through any rule', () => {
    for (let i = 0; i < 50; i++) {
      const secret = generateSecret('kt_live', ctx);
      const bad = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
      expect(detect(engine, `api_key = "${bad}"\ntoken: ${bad}\n`, 'x.yaml')).toEqual([]);
    }
  });

  it('follows the configured prefixes, and * for any', () => {
    const secret = generateSecret('acme_prod', ctx);
    expect(detect(engine, secret, 'a')).toEqual([]);
    expect(detect(compileEngine(buildEngineConfig({ prefixes: ['acme'] })), secret, 'a')).toHaveLength(1);
    expect(detect(compileEngine(buildEngineConfig({ prefixes: ['*'] })), `x ${secret} y`, 'a')).toHaveLength(1);
  });
});

describe('provider rules', () => {
  it('validates GitHub classic tokens by the CRC-32 of their body', () => {
    const token = fake.githubClassic();
    expect(githubClassicChecksumOk(token)).toBe(true);
    expect(detect(engine, `t=${token}`, 'a')).toHaveLength(1);
    const broken = `${token.slice(0, 10)}${token[10] === 'a' ? 'b' : 'a'}${token.slice(11)}`;
    expect(detect(engine, `t=${broken}`, 'a')).toEqual([]);
  });

  it('finds PEM private keys in JSON strings with \\n escapes and ignores public keys and certificates', () => {
    const body = fake.pemBody(700);
    const lines = body.match(/.{1,64}/g) ?? [];
    const json = JSON.stringify({ private_key: `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n` });
    const [f] = detect(engine, json, 'sa.json');
    expect(f).toMatchObject({ kind: 'private-key', line: 1, fingerprint: fingerprintOf(body, config.fingerprintKey) });
    const pub = `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
    expect(detect(engine, pub, 'k.pem')).toEqual([]);
  });

  it('does not report Stripe publishable keys, documented examples or placeholders', () => {
    const text = [
      `pk_live_${fake.base62(30)}`,
      'AKIAIOSFODNN7EXAMPLE',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'password = "${DB_PASSWORD}"',
      'token = "{{ secrets.token }}"',
      'api_key = "<your-api-key>"',
      'password: changeme123',
      'secret = "****************"',
      'token: 123e4567-e89b-12d3-a456-426614174000',
      'sha = "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"',
    ].join('\n');
    expect(detect(engine, text, 'a.txt')).toEqual([]);
  });

  it('ignores secrets-shaped text inside integrity digests, base64 data URIs and SSH public keys, and nowhere else', () => {
    const key = `AKIA${fake.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
    const b64 = fake.base62(40);
    const inside = [
      `"integrity": "sha512-${b64}/${key}/${b64}=="`,
      `<img src="data:image/png;base64,${b64}/${key}/${b64}">`,
      `ssh-rsa AAAAB3NzaC1yc2E${b64}/${key}/${b64}= user@host`,
    ];
    for (const line of inside) expect(detect(engine, `x = 1\n${line}\n`, 'a.txt')).toEqual([]);
    const outside = [`"integrity": "sha512-${b64}" ${key}`, `"sha512": "${b64}/${key}/${b64}"`, `id = ${key}`];
    for (const line of outside) expect(detect(engine, line, 'a.txt').map((f) => f.kind)).toEqual(['aws']);
  });

  it('honours inline keyturn:allow and allowlists from a rules file', () => {
    const pw = fake.password();
    expect(detect(engine, `password = "${pw}" # keyturn:allow`, 'a')).toEqual([]);
    expect(detect(engine, `password = "${pw}"`, 'a')).toHaveLength(1);
    const file = rulesFileSchema.parse({ allow: { stopwords: [pw.slice(2, 10)] } });
    expect(detect(compileEngine(buildEngineConfig({ rulesFile: file })), `password = "${pw}"`, 'a')).toEqual([]);
    const byPath = rulesFileSchema.parse({ allow: { paths: ['^fixtures/'] } });
    expect(detect(compileEngine(buildEngineConfig({ rulesFile: byPath })), `password = "${pw}"`, 'fixtures/a')).toEqual([]);
  });

  it('runs user rules from a rules file, with their keywords', () => {
    const file = rulesFileSchema.parse({
      rules: [{ id: 'acme-token', kind: 'acme', keywords: ['acme_'], pattern: '\\b(acme_[0-9a-f]{32})\\b' }],
      disable: ['generic-secret-assignment'],
    });
    const e = compileEngine(buildEngineConfig({ rulesFile: file }));
    const token = `acme_${'0123456789abcdef'.repeat(2)}`;
    expect(detect(e, `x = ${token}`, 'a')).toMatchObject([{ kind: 'acme', rule: 'acme-token' }]);
    expect(detect(e, `password = "${fake.password()}"`, 'a')).toEqual([]);
  });

  it("shows a keyturn secret's display start, a provider's public prefix, and nothing of anything else", () => {
    const secret = generateSecret('kt_live', ctx);
    const [keyturn] = detect(engine, `KEY=${secret}\n`, 'a.env');
    expect(redact(keyturn!)).toBe(`kt_live_${secret.slice(8, 12)}…`);
    const github = fake.githubClassic();
    const [gh] = detect(engine, `GH_TOKEN=${github}\n`, 'a.env');
    expect(redact(gh!)).toBe(`${github.slice(0, 4)}********`);
    const [pw] = detect(engine, 'password = "hJ8s#kLm29Xq!vB3"\n', 'a.env');
    expect(pw).toMatchObject({ kind: 'generic' });
    expect(redact(pw!)).toBe('********');
    expect(shownSecret('abcdefg', { kind: 'acme', keywords: ['abc'] })).toBe('********');
    expect(shownSecret(`abc${'x'.repeat(16)}`, { kind: 'acme', keywords: ['abc'] })).toBe('abc********');
    expect(shownSecret(`password${'x'.repeat(16)}`, { kind: 'generic', keywords: ['password'] })).toBe('********');
  });
});

describe('gitignore', () => {
  it('matches anchored, unanchored, directory and negated patterns', () => {
    const rules = [...parseGitignore('*.log\n/build/\nsecret*\n!secret.keep\n', ''), ...parseGitignore('*.tmp\n', 'sub')];
    expect(isIgnored(rules, 'a/b.log', false)).toBe(true);
    expect(isIgnored(rules, 'build', true)).toBe(true);
    expect(isIgnored(rules, 'x/build', true)).toBe(false);
    expect(isIgnored(rules, 'x/secret.env', false)).toBe(true);
    expect(isIgnored(rules, 'secret.keep', false)).toBe(false);
    expect(isIgnored(rules, 'sub/a.tmp', false)).toBe(true);
    expect(isIgnored(rules, 'a.tmp', false)).toBe(false);
  });
});
