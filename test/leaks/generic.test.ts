/**
 * Generic detection in every file type the scanner reads: hexadecimal secrets assigned to
 * secret-named identifiers (the shape of many real keys), typed declarations, environment
 * fallbacks and passwords with punctuation are findings; the same hex under a digest's name
 * (`*_sha`, `checksum`, `integrity`, `etag`, `commit`, …), UUIDs, placeholders and example
 * values are not. Every value is made up here from a seeded generator.
 */
import { describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { compileEngine, detect, fingerprintOf } from '../../src/leaks/scan/detect.js';
import { namesSecret, nameWordsAt } from '../../src/leaks/scan/validators.js';
import { Fake } from './support/corpus.js';

const config = buildEngineConfig();
const engine = compileEngine(config);
const fake = new Fake(1414);
const HEX = '0123456789abcdef';
/** Random hex without the sequential runs a generator of placeholders would leave. */
function hex(n: number): string {
  for (;;) {
    const s = fake.chars(HEX, n);
    if (!/0123456|abcdef0|fedcba/.test(s)) return s;
  }
}

/** File type → how it assigns `value` to `name` (upper-case names where the format uses them). */
const FORMATS: readonly (readonly [string, string, (name: string, value: string) => string])[] = [
  ['JavaScript', 'a.js', (n, v) => `const ${n} = "${v}";`],
  ['TypeScript typed', 'a.ts', (n, v) => `export const ${n}: string = "${v}";`],
  ['TypeScript env fallback', 'b.ts', (n, v) => `const key = process.env.${n} ?? "${v}";`],
  ['JavaScript env fallback ||', 'b.js', (n, v) => `const key = process.env.${n} || '${v}';`],
  ['Python', 'a.py', (n, v) => `${n} = '${v}'`],
  ['Python typed', 'b.py', (n, v) => `${n}: str = "${v}"`],
  ['Python getenv default', 'c.py', (n, v) => `key = os.getenv("${n}", "${v}")`],
  ['Python environ.get default', 'd.py', (n, v) => `key = os.environ.get('${n}', '${v}')`],
  ['Go', 'a.go', (n, v) => `var ${n} string = "${v}"`],
  ['Go short', 'b.go', (n, v) => `${n} := \`${v}\``],
  ['Java', 'A.java', (n, v) => `private static final String ${n} = "${v}";`],
  ['Kotlin typed', 'A.kt', (n, v) => `val ${n}: String = "${v}"`],
  ['Ruby', 'a.rb', (n, v) => `${n} = '${v}'.freeze`],
  ['Ruby ENV fallback', 'b.rb', (n, v) => `key = ENV["${n}"] || "${v}"`],
  ['Ruby ENV.fetch', 'c.rb', (n, v) => `key = ENV.fetch("${n}", "${v}")`],
  ['PHP', 'a.php', (n, v) => `$${n} = '${v}';`],
  ['PHP getenv fallback', 'b.php', (n, v) => `$key = getenv('${n}') ?: '${v}';`],
  ['PHP array', 'c.php', (n, v) => `    '${n}' => '${v}',`],
  ['PHP concatenating assignment', 'd.php', (n, v) => `$${n} .= "${v}";`],
  ['C#', 'A.cs', (n, v) => `private const string ${n} = "${v}";`],
  ['YAML', 'a.yaml', (n, v) => `${n}: "${v}"`],
  ['YAML unquoted', 'b.yml', (n, v) => `service:\n  ${n}: ${v}\n`],
  ['JSON', 'a.json', (n, v) => `{\n  "${n}": "${v}"\n}`],
  ['TOML', 'a.toml', (n, v) => `[service]\n${n} = "${v}"`],
  ['INI', 'a.ini', (n, v) => `[service]\n${n}=${v}`],
  ['.env', '.env', (n, v) => `${n}=${v}`],
  ['.env quoted', '.env.local', (n, v) => `${n}="${v}"`],
  ['shell export', 'a.sh', (n, v) => `export ${n}=${v}`],
  ['shell default', 'b.sh', (n, v) => `KEY="\${${n}:-${v}}"`],
  ['Dockerfile ENV', 'Dockerfile', (n, v) => `FROM node:20\nENV ${n}=${v}`],
  ['Dockerfile ARG', 'Dockerfile', (n, v) => `ARG ${n}=${v}`],
  ['Terraform', 'main.tf', (n, v) => `variable "x" {\n  default = "y"\n}\nresource "x" "y" {\n  ${n} = "${v}"\n}`],
  ['Kubernetes env', 'deploy.yaml', (n, v) => `env:\n  - name: ${n}\n    value: "${v}"`],
  ['Kubernetes Secret stringData', 'secret.yaml', (n, v) => `kind: Secret\nstringData:\n  ${n}: ${v}`],
  ['ECS task definition', 'task.json', (n, v) => `"environment": [\n  {\n    "name": "${n}",\n    "value": "${v}"\n  }\n]`],
  ['GitHub Actions', '.github/workflows/ci.yml', (n, v) => `jobs:\n  test:\n    env:\n      ${n}: ${v}`],
  ['GitLab CI', '.gitlab-ci.yml', (n, v) => `variables:\n  ${n}: "${v}"`],
  ['docker-compose', 'docker-compose.yml', (n, v) => `services:\n  app:\n    environment:\n      - ${n}=${v}`],
  ['Makefile', 'Makefile', (n, v) => `${n} ?= ${v}`],
  ['XML element', 'config.xml', (n, v) => `<settings>\n  <${n}>\n    ${v}\n  </${n}>\n</settings>`],
  ['XML element, one line', 'web.config', (n, v) => `<appSettings><${n}>${v}</${n}></appSettings>`],
  ['INI held in a JSON string', 'files.json', (n, v) => `{"config.ini": "${n}=${v}\\nBACKUP_ENABLED=true"}`],
  ['Java properties', 'app.properties', (n, v) => `${n.toLowerCase().replace(/_/g, '.')}=${v}`],
];

const SECRET_NAMES = ['PARTNER_API_KEY', 'partnerApiKey', 'APP_SECRET', 'X_API_SECRET', 'INTERNAL_API_KEY', 'ANALYTICS_API_KEY', 'SERVICE_TOKEN', 'DB_PASSWORD', 'clientSecret', 'SECRET_KEY_BASE', 'PRIVATE_KEY'];
const DIGEST_NAMES = ['RELEASE_SHA', 'commitSha', 'COMMIT', 'checksum', 'integrity', 'etag', 'API_KEY_HASH', 'secret_sha256', 'tokenDigest', 'KEY_FINGERPRINT', 'private_key_id', 'NEXT_PUBLIC_API_KEY', 'csrf_token', 'api_key_id'];

describe('hexadecimal secrets under secret names', () => {
  for (const [label, file, write] of FORMATS) {
    it(`${label}: 32, 40 and 64 hex named as secrets are found; named as digests they are not`, () => {
      for (const [i, length] of [32, 40, 64].entries()) {
        const name = SECRET_NAMES[(i + file.length) % SECRET_NAMES.length] as string;
        const value = hex(length);
        const found = detect(engine, `# config\n${write(name, value)}\n`, file);
        expect(found.map((f) => [f.kind, f.fingerprint]), `${label} ${name}`).toEqual([['generic', fingerprintOf(value, config.fingerprintKey)]]);
      }
      for (const name of DIGEST_NAMES) {
        for (const length of [32, 40, 64]) expect(detect(engine, write(name, hex(length)), file), `${label} ${name}`).toEqual([]);
      }
    });
  }

  it('upper-case hex is a secret under a secret name too', () => {
    const value = hex(32).toUpperCase();
    expect(detect(engine, `DD_API_KEY=${value}`, '.env').map((f) => f.secret)).toEqual([value]);
    expect(detect(engine, `ARTIFACT_MD5=${value}`, '.env')).toEqual([]);
  });

  it('drops hex that only looks random: repeated units, runs, all zeros, UUIDs, placeholders', () => {
    const values = [
      '0123456789abcdef0123456789abcdef',
      'deadbeefdeadbeefdeadbeefdeadbeef',
      '00000000000000000000000000000000',
      'abababababababababababababababab',
      `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      'your_api_key_here_0000000000000',
      '${PARTNER_API_KEY}',
      'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    ];
    for (const v of values) expect(detect(engine, `PARTNER_API_KEY="${v}"\npartner_api_key: ${v}\n`, 'a.env'), v).toEqual([]);
  });
});

describe('XML elements', () => {
  it('reads only a bare element named like a secret whose whole content is the value', () => {
    const value = `${fake.chars('ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789', 28)}9`;
    // An HTML class, an element with attributes, text that goes on, a reference, a name that is
    // not a secret's (a count of tokens): none is a finding.
    for (const text of [
      `<span class="token">${value}</span>`,
      `<apiToken encrypted="true">${value}</apiToken>`,
      `<apiToken>${value} and more words</apiToken>`,
      '<apiToken>${API_TOKEN_FROM_ENV}</apiToken>',
      `<tokenCount>\n  ${value}\n</tokenCount>`,
    ]) {
      expect(detect(engine, text, 'page.xml').map((f) => f.secret), text).toEqual([]);
    }
    expect(detect(engine, `<apiToken>${value}</apiToken>`, 'page.xml').map((f) => f.secret)).toEqual([value]);
  });
});

describe('typed declarations, fallbacks and punctuation', () => {
  it('finds a password with punctuation in a typed TypeScript declaration', () => {
    for (const pw of ['Zq7!mK#2pL$9vR@x', 'p@ss:W0rd;with,comma!', "it's-N0t-@-Secret?%", 'a/b+C=d&e*F(1)2^3~4']) {
      const found = detect(engine, `export const DB_PASSWORD: string = "${pw}";\n`, 'config.ts');
      expect(found.map((f) => f.secret), pw).toEqual([pw]);
    }
  });

  it('finds non-hex values in the new forms as well', () => {
    const pw = fake.password();
    const lines = [
      `const key = process.env.INTERNAL_API_KEY ?? "${pw}";`,
      `api_key = os.getenv("API_KEY", "${pw}")`,
      `System.setProperty("API_TOKEN", "${pw}")`,
      `- name: SMTP_PASSWORD\n  value: "${pw}"`,
      `readonly authToken?: string = '${pw}';`,
    ];
    for (const line of lines) expect(detect(engine, line, 'a').map((f) => f.secret), line).toEqual([pw]);
  });

  it('reports no reference, call or template in those forms', () => {
    const lines = [
      'const key = process.env.INTERNAL_API_KEY ?? defaultKey;',
      'const key = process.env.INTERNAL_API_KEY ?? "";',
      'api_key = os.getenv("API_KEY", None)',
      'api_key = os.getenv("API_KEY", "changeme-please-0000")',
      'export const API_TOKEN: string = process.env.API_TOKEN!;',
      'const password: string = "${DB_PASSWORD}";',
      '- name: API_TOKEN\n  valueFrom:\n    secretKeyRef:\n      name: app\n      key: token',
      '- name: API_TOKEN\n  value: "{{ .Values.apiToken }}"',
      'KEY="${API_KEY:-}"',
      'if (password == "hunter2") {}',
      'fields = ["password", "username", "remember_me"]',
      '  apiKey: config.apiKey,\n    "value": "gHY6P6RdJZc0zsWAZyds",',
      // RFC 8693 token types are URNs, not secrets (first run #10 item 9).
      "subject_token_type: 'urn:ietf:params:oauth:token-type:saml2'",
      'token: urn:ietf:params:oauth:token-type:saml2',
      'curl -d token=urn:ietf:params:oauth:token-type:saml1 -d subject_token_type=urn:ietf:params:oauth:token-type:jwt',
      'ACCESS_TOKEN_TYPE="urn:ietf:params:oauth:token-type:access_token"',
    ];
    for (const line of lines) expect(detect(engine, line, 'a'), line).toEqual([]);
  });
});

describe('name reasoning', () => {
  it('splits a name around a position into its words', () => {
    const text = 'const key = process.env.partnerApiKey ?? "x"';
    expect(nameWordsAt(text, text.indexOf('Api'))).toEqual(['process', 'env', 'partner', 'api', 'key']);
    expect(nameWordsAt('"SECRET_KEY_BASE": 1', 1)).toEqual(['secret', 'key', 'base']);
  });

  it('calls a name a secret by its last words and never when a word speaks of a digest', () => {
    for (const n of ['api key', 'app secret', 'partner api key', 'service token', 'db password', 'secret key base', 'private key', 'access key', 'shared secret'])
      expect(namesSecret(n.split(' ')), n).toBe(true);
    for (const n of ['secret sha256', 'api key hash', 'commit sha', 'token digest', 'checksum', 'api key id', 'key', 'public key', 'next public api key', 'secret md5'])
      expect(namesSecret(n.split(' ')), n).toBe(false);
  });
});
