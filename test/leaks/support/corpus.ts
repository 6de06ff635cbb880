/**
 * A labelled, synthetic fixture corpus for the leak scanner: planted secrets of every kind in
 * many file formats, and decoys of every kind that must not be reported. Every value is made up
 * here from a seeded generator (never a real secret); GitHub classic tokens and keyturn secrets
 * get valid checksums so they are indistinguishable from real ones.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { BASE62_ALPHABET, encodeBase62 } from '../../../src/core/base62.js';
import { generateSecret } from '../../../src/core/secret.js';

/** A planted secret: a finding of this kind with this fingerprint in this file is a true positive. */
export interface Label {
  readonly file: string;
  readonly kind: string;
  readonly fingerprint: string;
}

export interface Corpus {
  readonly files: Map<string, string>;
  readonly labels: Label[];
  /** Decoys planted, by kind (informational). */
  readonly decoys: Record<string, number>;
}

export const KINDS = ['keyturn', 'aws', 'github', 'stripe', 'slack', 'google', 'private-key', 'jwt', 'connection-string', 'generic'] as const;

/** Deterministic PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';

/** Generators of synthetic values, all from one seeded stream. */
export class Fake {
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = seeded(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  base62(n: number): string {
    return this.chars(BASE62_ALPHABET, n);
  }
  digits(n: number): string {
    return String(1 + this.int(9)) + this.chars('0123456789', n - 1);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  keyturn(prefix = this.pick(['kt_live', 'kt_test', 'ktr', 'ktc'])): string {
    return generateSecret(prefix, { random: (n) => this.bytes(n) });
  }
  githubClassic(): string {
    const body = this.base62(30);
    return `${this.pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${body}${encodeBase62(crc32(body), 6)}`;
  }
  githubFineGrained(): string {
    return `github_pat_${this.base62(22)}_${this.base62(59)}`;
  }
  awsKeyId(): string {
    return `${this.pick(['AKIA', 'ASIA'])}${this.chars(B32, 16)}`;
  }
  awsSecret(): string {
    for (;;) {
      const s = this.chars(B64, 40);
      if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s)) return s;
    }
  }
  stripe(): string {
    return `${this.pick(['sk_live', 'sk_test', 'rk_live', 'rk_test'])}_${this.base62(this.pick([24, 34, 99]))}`;
  }
  slackToken(): string {
    return this.rnd() < 0.5
      ? `xoxb-${this.digits(12)}-${this.digits(13)}-${this.base62(24)}`
      : `xoxp-${this.digits(12)}-${this.digits(12)}-${this.digits(13)}-${this.chars(HEX, 32)}`;
  }
  slackWebhook(): string {
    return `https://hooks.slack.com/services/T${this.chars(B32.slice(0, 26) + '0123456789', 8)}/B${this.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/${this.base62(24)}`;
  }
  google(): string {
    return `AIza${this.chars(BASE62_ALPHABET + '_-', 35)}`;
  }
  pemBody(bytes: number): string {
    return Buffer.from(this.bytes(bytes)).toString('base64');
  }
  jwt(): string {
    const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = enc({ alg: this.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' });
    const payload = enc({ sub: `user-${this.int(1e6)}`, iat: 1_700_000_000 + this.int(1e7), scope: 'read write', jti: this.base62(16) });
    return `${header}.${payload}.${this.chars(B64URL, 43)}`;
  }
  password(n = 16 + this.int(12)): string {
    for (;;) {
      const s = this.chars(`${BASE62_ALPHABET}!#%&*+-.=?@^_~`, n);
      if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s)) return s;
    }
  }
  identifier(): string {
    return this.pick(['user', 'order', 'item', 'config', 'result', 'value', 'handler', 'client', 'request', 'session', 'buffer']) + this.pick(['', 'Id', 'List', 'Count', 'Map', 'Name', 'Index']);
  }
}

function wrap64(s: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 64) lines.push(s.slice(i, i + 64));
  return lines;
}

const PEM_TYPES = ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'DSA PRIVATE KEY'] as const;

/** A private key block in one of several containers; returns the text and the label secret (the body). */
function plantPem(f: Fake, style: number): { text: string; secret: string } {
  const type = f.pick(PEM_TYPES);
  const body = f.pemBody(type === 'EC PRIVATE KEY' ? 121 : 600 + f.int(600));
  const lines = wrap64(body);
  const begin = `-----BEGIN ${type}-----`;
  const end = `-----END ${type}-----`;
  const legacyEncrypted = type === 'RSA PRIVATE KEY' && f.rnd() < 0.3;
  const headers = legacyEncrypted ? ['Proc-Type: 4,ENCRYPTED', `DEK-Info: AES-128-CBC,${f.chars('0123456789ABCDEF', 32)}`, ''] : [];
  switch (style % 4) {
    case 0:
      return { text: [begin, ...headers, ...lines, end, ''].join('\n'), secret: body };
    case 1:
      return { text: `tls:\n  key: |\n${[begin, ...headers, ...lines, end].map((l) => `    ${l}`).join('\n')}\n  port: 8443\n`, secret: body };
    case 2:
      return { text: `${JSON.stringify({ type: 'service_account', private_key: [begin, ...headers, ...lines, end, ''].join('\n'), client_email: 'svc@example.iam' }, null, 2)}\n`, secret: body };
    default:
      return {
        text: `const KEY =\n${[begin, ...headers, ...lines, end].map((l) => `  "${l}\\n" +`).join('\n')}\n  "";\nexport default KEY;\n`,
        secret: body,
      };
  }
}

const FILLER_LINES: readonly ((f: Fake) => string)[] = [
  (f) => `const ${f.identifier()} = ${f.identifier()}.map((x) => x * ${f.int(100)});`,
  (f) => `function validatePassword(password) { return password.length >= ${8 + f.int(8)}; }`,
  (f) => `if (token === undefined) throw new Error('missing token for ${f.identifier()}');`,
  (f) => `  const tokenizer = new Tokenizer({ maxTokens: ${f.int(4096)} });`,
  (f) => `password = request.form['password']  # ${f.identifier()}`,
  (f) => `token = self.get_token(${f.identifier()})`,
  () => `  apiKey: config.apiKey,`,
  (f) => `// TODO(${f.identifier()}): rotate the secret every ${f.int(90)} days`,
  (f) => `    "${f.identifier()}": "${f.base62(8 + f.int(24))}",`,
  (f) => `    "checksum": "${f.chars(HEX, 64)}",`,
  (f) => `export const ${f.identifier().toUpperCase()}_TIMEOUT_MS = ${f.int(100000)};`,
  (f) => `log.info({ user: ${f.identifier()}, durationMs: ${f.int(5000)} }, 'request served');`,
  (f) => `  <div class="${f.identifier()}">${f.identifier()} ${f.int(1000)}</div>`,
  (f) => `SELECT id, name FROM ${f.identifier()} WHERE created_at > now() - interval '${f.int(30)} days';`,
  (f) => `    id: ${f.chars(HEX, 8)}-${f.chars(HEX, 4)}-4${f.chars(HEX, 3)}-a${f.chars(HEX, 3)}-${f.chars(HEX, 12)}`,
  (f) => `data = "${f.pemBody(48)}"`,
  (f) => `Lorem ipsum dolor sit amet, ${f.identifier()} consectetur adipiscing elit ${f.int(1e6)}.`,
  (f) => `const passwordHash = await hash(password, { cost: ${10 + f.int(4)} });`,
  () => `token_type = "Bearer"`,
  (f) => `git commit -m "update ${f.identifier()}" && git push origin main`,
];

/** Benign code-like text of about `bytes` bytes. */
export function filler(f: Fake, bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = f.pick(FILLER_LINES)(f);
    lines.push(line);
    n += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

/** Where a planted or decoy snippet goes: a file format and how it wraps a name/value. */
const WRAPPERS: readonly ((name: string, value: string) => string)[] = [
  (n, v) => `${n.toUpperCase()}=${v}`,
  (n, v) => `${n}: "${v}"`,
  (n, v) => `  "${n}": "${v}",`,
  (n, v) => `const ${n} = '${v}';`,
  (n, v) => `${n} = "${v}"`,
];

/**
 * Builds the corpus. `scale` multiplies the number of planted secrets and decoys; `fillerBytes`
 * is benign text around them in total.
 */
export function generateCorpus(options: { seed?: number; scale?: number; fillerBytes?: number } = {}): Corpus {
  const f = new Fake(options.seed ?? 42);
  const scale = options.scale ?? 1;
  const files = new Map<string, string>();
  const labels: Label[] = [];
  const decoys: Record<string, number> = {};
  const dirs = ['src', 'src/api', 'config', 'deploy/k8s', 'scripts', 'docs', 'test/fixtures', 'services/billing'];
  const exts = ['.ts', '.env', '.yaml', '.json', '.py', '.md', '.properties', '.sh'];
  let fileNo = 0;
  const newFile = (ext = f.pick(exts)): string => `${f.pick(dirs)}/file-${fileNo++}${ext}`;
  const fillerPer = Math.max(0, Math.floor((options.fillerBytes ?? 200_000) / (60 * scale)));
  const put = (path: string, snippet: string): void => {
    const before = filler(f, f.int(fillerPer));
    const after = filler(f, f.int(fillerPer));
    files.set(path, `${files.get(path) ?? ''}${before}${snippet}\n${after}`);
  };
  const plant = (kind: string, secret: string, snippet: string, path = newFile()): void => {
    put(path, snippet);
    labels.push({ file: path, kind, fingerprint: sha(secret) });
  };
  const decoy = (kind: string, snippet: string, path = newFile()): void => {
    put(path, snippet);
    decoys[kind] = (decoys[kind] ?? 0) + 1;
  };
  const wrap = (name: string, value: string): string => f.pick(WRAPPERS)(name, value);

  for (let round = 0; round < scale; round++) {
    // keyturn
    for (let i = 0; i < 4; i++) {
      const s = f.keyturn();
      plant('keyturn', s, wrap(f.pick(['api_key', 'keyturn_key', 'auth', 'credential']), s));
    }
    {
      const s = f.keyturn();
      plant('keyturn', s, `curl -H "Authorization: Bearer ${s}" https://api.internal/v1/items`);
      const good = f.keyturn('kt_live');
      const last = good.at(-1) === 'A' ? 'B' : 'A';
      decoy('keyturn', wrap('api_key', good.slice(0, -1) + last)); // wrong checksum
      decoy('keyturn', `KEYTURN_KEY=kt_live_${'x'.repeat(49)}`);
      decoy('keyturn', `token: kt_test_${f.base62(49)}`); // random tail: checksum almost surely wrong
    }
    // aws
    for (let i = 0; i < 3; i++) {
      const id = f.awsKeyId();
      plant('aws', id, wrap('aws_access_key_id', id));
      const secret = f.awsSecret();
      plant('aws', secret, f.pick([`aws_secret_access_key = ${secret}`, `AWS_SECRET_ACCESS_KEY="${secret}"`, `  "SecretAccessKey": "${secret}",`]));
    }
    decoy('aws', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    decoy('aws', `AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX`);
    // github
    for (let i = 0; i < 3; i++) {
      const t = f.githubClassic();
      plant('github', t, wrap(f.pick(['github_token', 'GH_TOKEN', 'token']), t));
    }
    {
      const t = f.githubFineGrained();
      plant('github', t, `git clone https://x-access-token:${t}@github.com/acme/app.git`);
      const bad = f.githubClassic();
      decoy('github', wrap('github_token', bad.slice(0, -6) + 'AAAAAA'));
      decoy('github', `GITHUB_TOKEN=ghp_${'x'.repeat(36)}`);
    }
    // stripe
    for (let i = 0; i < 3; i++) {
      const k = f.stripe();
      plant('stripe', k, wrap(f.pick(['stripe_key', 'STRIPE_SECRET_KEY', 'stripe']), k));
    }
    decoy('stripe', `STRIPE_PUBLISHABLE_KEY=pk_live_${f.base62(99)}`);
    decoy('stripe', `publishableKey: "pk_test_${f.base62(24)}"`);
    decoy('stripe', `STRIPE_SECRET_KEY=sk_live_${'x'.repeat(24)}`);
    // slack
    for (let i = 0; i < 3; i++) {
      const t = f.slackToken();
      plant('slack', t, wrap(f.pick(['slack_bot_token', 'SLACK_TOKEN']), t));
    }
    {
      const w = f.slackWebhook();
      plant('slack', w, `SLACK_WEBHOOK_URL=${w}`);
      decoy('slack', 'SLACK_WEBHOOK_URL=https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX');
      decoy('slack', 'slack_token: xoxb-your-token-here');
    }
    // google
    for (let i = 0; i < 3; i++) {
      const k = f.google();
      plant('google', k, f.pick([wrap('google_api_key', k), `<script src="https://maps.googleapis.com/maps/api/js?key=${k}"></script>`]));
    }
    decoy('google', `GOOGLE_API_KEY=AIza${'X'.repeat(35)}`);
    decoy('google', `"integrity": "sha512-${f.pemBody(21)}+AIza${f.base62(35)}+${f.pemBody(22)}"`, newFile('.json'));
    // private keys
    for (let i = 0; i < 4; i++) {
      const { text, secret } = plantPem(f, i + round);
      plant('private-key', secret, text, newFile(['.pem', '.yaml', '.json', '.js'][(i + round) % 4]));
    }
    decoy('private-key', ['-----BEGIN PUBLIC KEY-----', ...wrap64(f.pemBody(294)), '-----END PUBLIC KEY-----'].join('\n'), newFile('.pem'));
    decoy('private-key', ['-----BEGIN CERTIFICATE-----', ...wrap64(f.pemBody(900)), '-----END CERTIFICATE-----'].join('\n'), newFile('.crt'));
    decoy('private-key', '-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----', newFile('.md'));
    decoy('private-key', `-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----`, newFile('.md'));
    decoy('private-key', `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5${f.pemBody(32)} deploy@ci`, newFile('.pub'));
    // jwt
    for (let i = 0; i < 3; i++) {
      const t = f.jwt();
      plant('jwt', t, f.pick([wrap('id_token', t), `Authorization: Bearer ${t}`]));
    }
    decoy('jwt', 'token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"');
    decoy('jwt', `unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJhZG1pbiI6dHJ1ZX0.${f.base62(20)}"`);
    // connection strings
    for (let i = 0; i < 3; i++) {
      const pw = f.password().replace(/[@/:?#%]/g, '');
      const url = f.pick([
        `postgres://app:${pw}@db.internal:5432/app`,
        `postgresql://svc:${pw}@10.0.0.5/orders?sslmode=require`,
        `mysql://root:${pw}@mysql:3306/shop`,
        `mongodb+srv://admin:${pw}@cluster0.mongo.internal/test`,
        `redis://:${pw}@cache:6379/0`,
        `amqp://guest:${pw}@rabbit:5672/vhost`,
      ]);
      plant('connection-string', pw, wrap('database_url', url));
    }
    decoy('connection-string', 'DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app');
    decoy('connection-string', 'url: postgres://postgres:password@localhost:5432/postgres');
    decoy('connection-string', 'MYSQL_URL=mysql://root:<password>@localhost/shop');
    decoy('connection-string', 'REDIS_URL=redis://localhost:6379/0');
    decoy('connection-string', 'mongo: mongodb://user:changeme@localhost/db');
    // generic
    for (let i = 0; i < 4; i++) {
      const pw = f.password();
      plant('generic', pw, wrap(f.pick(['db_password', 'client_secret', 'api_key', 'auth_token', 'SECRET_KEY', 'smtp_password']), pw));
    }
    decoy('generic', 'password = "changeme"');
    decoy('generic', 'token: ${API_TOKEN}');
    decoy('generic', 'api_key: "{{ .Values.apiKey }}"');
    decoy('generic', 'secret = "********"');
    decoy('generic', 'password = os.environ["DB_PASSWORD"]');
    decoy('generic', `session_token: ${f.chars(HEX, 8)}-${f.chars(HEX, 4)}-4${f.chars(HEX, 3)}-8${f.chars(HEX, 3)}-${f.chars(HEX, 12)}`);
    decoy('generic', `secret_sha256 = "${f.chars(HEX, 64)}"`);
    decoy('generic', `"integrity": "sha512-${f.pemBody(64)}"`, newFile('.json'));
    decoy('generic', `avatar = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA${f.pemBody(60)}/AKIA${f.chars(B32, 16)}/${f.pemBody(30)}"`);
    decoy('generic', 'api_key = "your-api-key-here"');
    decoy('generic', 'password: <your-password>');
    decoy('generic', `secret = "xxxxxxxxxxxxxxxx"`);
    decoy('generic', `API_TOKEN=${f.password()}  # keyturn:allow`);
  }
  return { files, labels, decoys };
}

/** Per-kind and overall precision and recall of `findings` against `labels`. */
export function score(
  labels: readonly Label[],
  findings: readonly { file: string; kind: string; fingerprint: string }[],
): Record<string, { tp: number; fp: number; fn: number; precision: number; recall: number }> {
  const out: Record<string, { tp: number; fp: number; fn: number; precision: number; recall: number }> = {};
  const key = (x: { file: string; kind: string; fingerprint: string }): string => `${x.file}\0${x.kind}\0${x.fingerprint}`;
  const labelled = new Set(labels.map(key));
  const found = new Set(findings.map(key));
  const kinds = new Set([...labels.map((l) => l.kind), ...findings.map((x) => x.kind)]);
  let TP = 0;
  let FP = 0;
  let FN = 0;
  for (const kind of kinds) {
    const tp = findings.filter((x) => x.kind === kind && labelled.has(key(x))).length;
    const fp = findings.filter((x) => x.kind === kind && !labelled.has(key(x))).length;
    const fn = labels.filter((l) => l.kind === kind && !found.has(key(l))).length;
    TP += tp;
    FP += fp;
    FN += fn;
    out[kind] = { tp, fp, fn, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn) };
  }
  out.overall = { tp: TP, fp: FP, fn: FN, precision: TP + FP === 0 ? 1 : TP / (TP + FP), recall: TP + FN === 0 ? 1 : TP / (TP + FN) };
  return out;
}
