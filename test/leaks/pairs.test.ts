/**
 * Credentials that are an identifier and a secret with no prefix of its own (Twilio account SID +
 * auth token and API key SID + secret, Twitch client id + secret, Alibaba AccessKey ID + secret,
 * Okta token + org domain): the secret is found beside what it pairs with, in either order and
 * in the usual file types; a value beside it whose own name says digest or identifier, a trivial
 * value, or one too far away is not. Every value is made up here from a seeded generator.
 */
import { describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { compileEngine, detect } from '../../src/leaks/scan/detect.js';
import { Fake } from './support/corpus.js';

const engine = compileEngine(buildEngineConfig());
const f = new Fake(1414);
const hex = (n: number): string => f.chars('0123456789abcdef', n);
const mixed = (n: number): string => `a${f.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1)}${f.digits(1)}${f.base62(n - 3)}`;
const base36 = (): string => `g${f.digits(1)}${f.chars('abcdefghijklmnopqrstuvwxyz0123456789', 28)}`;

/** The secrets of `kind` found in `text`. */
function found(text: string, kind: string, path = 'config.txt'): string[] {
  return detect(engine, text, path)
    .filter((x) => x.kind === kind)
    .map((x) => x.secret);
}

describe('Twilio: auth token beside its account SID', () => {
  const sid = `AC${hex(32)}`;
  const token = hex(32);
  const cases: Array<[string, string, string]> = [
    ['.env', '.env', `TWILIO_SID=${sid}\nTWILIO_SECRET_VALUE=${token}\n`],
    ['YAML', 'twilio.yml', `twilio:\n  account: ${sid}\n  auth: "${token}"\n`],
    ['JSON, token first', 'twilio.json', `{"twilio": {"auth": "${token}", "account": "${sid}"}}`],
    ['Python call', 'sms.py', `from twilio.rest import Client\nclient = Client("${sid}", "${token}")\n`],
    ['URL credentials', 'hook.sh', `# twilio\ncurl -u ${sid}:${token} https://api.twilio.com/2010-04-01/Accounts.json\n`],
    ['Go', 'main.go', `// twilio\nclient := twilio.NewRestClientWithParams(twilio.ClientParams{Username: "${sid}", Password: "${token}"})\n`],
  ];
  for (const [label, path, text] of cases) {
    it(`finds the token in ${label}, and never the SID`, () => {
      expect(found(text, 'twilio', path)).toEqual([token]);
    });
  }

  it('does not report a 32-hex value beside the SID named as a digest or identifier', () => {
    for (const name of ['body_sha', 'checksum', 'etag', 'request_id', 'commit', 'md5', 'integrity', 'fingerprint', 'nonce']) {
      expect(found(`twilio:\n  account_sid: ${sid}\n  ${name}: ${hex(32)}\n`, 'twilio'), name).toEqual([]);
    }
  });

  it('does not report the pair in a file that does not name Twilio, a trivial value, or a value 200 characters away', () => {
    expect(found(`ACCOUNT=${sid}\nAUTH=${token}\n`, 'twilio')).toEqual([]);
    expect(found(`twilio ${sid} ${'0123456789abcdef'.repeat(2)}`, 'twilio')).toEqual([]);
    expect(found(`twilio ${sid}\n${'#'.repeat(210)}\n${token}`, 'twilio')).toEqual([]);
  });
});

describe('Twilio: API key secret beside its API key SID', () => {
  it('finds the secret after or before the SID (and the SID by its own rule)', () => {
    const sid = `SK${hex(32)}`;
    const secret = mixed(32);
    expect(found(`twilio:\n  key: ${sid}\n  secret: ${secret}\n`, 'twilio').sort()).toEqual([secret, sid].sort());
    expect(found(`TWILIO_KEY_PASSWORD="${secret}"\nTWILIO_KEY="${sid}"\n`, 'twilio').sort()).toEqual([secret, sid].sort());
  });

  it('does not report a value that is one case only, or named as an identifier', () => {
    const sid = `SK${hex(32)}`;
    expect(found(`twilio ${sid} ${f.chars('abcdefghijklmnopqrstuvwxyz0123456789', 32)}`, 'twilio')).toEqual([sid]);
    expect(found(`twilio:\n  key: ${sid}\n  service_id: ${mixed(32)}\n`, 'twilio')).toEqual([sid]);
  });
});

describe('Twitch: client id and secret', () => {
  it('reports both halves of an unnamed pair, and only the secret of a named one', () => {
    const [a, b] = [base36(), base36()];
    expect(found(`twitch:\n  - ${a}\n  - ${b}\n`, 'twitch').sort()).toEqual([a, b].sort());
    expect(found(`// twitch\nconst app = { clientId: "${a}", clientSecret: "${b}" };\n`, 'twitch')).toEqual([b]);
  });

  it('finds a chat password (oauth: + token)', () => {
    const token = base36();
    expect(found(`PASS oauth:${token}\r\nNICK bot\r\n`, 'twitch')).toEqual([token]);
  });

  it('does not report words, hex or values named as identifiers', () => {
    expect(found(`twitch: ${hex(30)} ${hex(30)}`, 'twitch')).toEqual([]);
    expect(found(`twitch:\n  user_id: ${base36()}\n  broadcaster_id: ${base36()}\n`, 'twitch')).toEqual([]);
    expect(found(`twitch: ${'streamingplatformintegrations'}x ${'chatmoderationandsubscriptions'}`, 'twitch')).toEqual([]);
  });
});

describe('Alibaba Cloud: AccessKey secret beside its ID', () => {
  it('finds the secret after or before the ID', () => {
    const id = `LTAI${f.base62(20)}`;
    const secret = mixed(30);
    expect(found(`ALIBABA_CLOUD_ACCESS_KEY_ID=${id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET=${secret}\n`, 'alibaba').sort()).toEqual([id, secret].sort());
    expect(found(`cred = AccessKeyCredential(secret="${secret}", id="${id}")`, 'alibaba').sort()).toEqual([id, secret].sort());
  });

  it('does not report a value beside the ID named as an identifier', () => {
    const id = `LTAI${f.base62(20)}`;
    expect(found(`access_key_id: ${id}\nrequest_id: ${mixed(30)}\n`, 'alibaba')).toEqual([id]);
  });
});

describe('Okta: API token beside the org domain', () => {
  it('finds the token after or before the domain', () => {
    const token = `00${mixed(40)}`;
    expect(found(`okta:\n  orgUrl: https://dev-123456.okta.com\n  token: ${token}\n`, 'okta')).toEqual([token]);
    expect(found(`-H "Authorization: SSWS ${token}" https://acme.oktapreview.com/api/v1/users`, 'okta')).toEqual([token]);
  });

  it('does not report a value named as an identifier, or one without the domain', () => {
    expect(found(`https://dev-1.okta.com\nsession_id: 00${mixed(40)}\n`, 'okta')).toEqual([]);
    expect(found(`rookTable = 00${mixed(40)}`, 'okta')).toEqual([]);
  });
});

describe('Square: every secret has a prefix, sandbox ones included', () => {
  const body = (n: number): string => f.chars(`${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'}_-`, n);
  it('finds sandbox application secrets and access tokens, never application ids', () => {
    const secret = `sandbox-sq0csb-${body(43)}`;
    const token = `sandbox-sq0atb-${body(22)}`;
    const text = `SQUARE_APPLICATION_ID=sandbox-sq0idb-${body(22)}\nSQUARE_APPLICATION_SECRET=${secret}\nSQUARE_ACCESS_TOKEN=${token}\nSQUARE_PROD_APP_ID=sq0idp-${body(22)}\n`;
    expect(found(text, 'square').sort()).toEqual([secret, token].sort());
    expect(detect(engine, text, '.env').filter((x) => x.kind !== 'square')).toEqual([]);
  });
});

describe('Discord: OAuth2 client secret where Discord is named', () => {
  const secret = (): string => mixed(32).replace(/^a/, 'Q');
  it('finds the secret under a Discord secret or token name, and after the Discord word beside its client id', () => {
    const s = [secret(), secret(), secret(), secret()];
    expect(found(`DISCORD_CLIENT_ID=938766454886103981\nDISCORD_CLIENT_SECRET=${s[0]}\n`, 'discord', '.env')).toEqual([s[0]]);
    expect(found(`discord:\n  client_id: "938766454886103981"\n  client_secret: "${s[1]}"\n`, 'discord', 'app.yml')).toEqual([s[1]]);
    expect(found(`{"discord": {"clientId": "938766454886103981", "client-secret": "${s[2]}"}}`, 'discord', 'app.json')).toEqual([s[2]]);
    expect(found(`export const discordToken: string = "${s[3]}";\n`, 'discord', 'bot.ts')).toEqual([s[3]]);
  });

  // Third-party examples: gitleaks cmd/generate/config/rules/discord.go (discord-client-secret), carried in test/vectors/gitleaks/examples.json.
  it('finds the gitleaks examples of discord-client-secret; the client id alone is an identifier, never reported', () => {
    expect(found('discordToken = "42066212555601666522688111530221"', 'discord')).toEqual(['42066212555601666522688111530221']);
    expect(found('discordToken = "938766454886103981"', 'discord')).toEqual([]);
  });

  it('does not report a digest, an identifier, a repeated value, the first part of a bot token, or a value where Discord is not named', () => {
    const s = secret();
    expect(found(`DISCORD_SECRET_SHA=${s}\n`, 'discord', '.env')).toEqual([]);
    expect(found(`discord_token_id: ${s}\n`, 'discord', 'a.yml')).toEqual([]);
    expect(found(`DISCORD_CLIENT_SECRET=${'x'.repeat(32)}\n`, 'discord', '.env')).toEqual([]);
    expect(found(`slack:\n  client_secret: ${s}\n`, 'discord', 'a.yml')).toEqual([]);
    expect(found(`discord_token = "${s}.Vhu0LY"`, 'discord')).toEqual([]);
  });
});

describe('npm: a legacy token under a two-word name', () => {
  // Third-party examples: trufflehog pkg/detectors/npmtoken/npmtoken_test.go, carried in test/vectors/trufflehog/.
  it("finds trufflehog's `npmtoken token = '<uuid>'` and `npm token: <uuid>`; not a broken UUID or one on another line", () => {
    expect(found("npmtoken token = '3aAcac6c-9847-23d9-ce65-917590b81cf0'", 'npm')).toEqual(['3aAcac6c-9847-23d9-ce65-917590b81cf0']);
    expect(found('npm token: 5d3c1a9e-7b42-4f0e-9c8d-2a6b7e1f3c40\n', 'npm', 'notes.md')).toEqual(['5d3c1a9e-7b42-4f0e-9c8d-2a6b7e1f3c40']);
    expect(found("npmtoken = '3aAcac6c?9847-23d9-ce65-917590b81cf0'", 'npm')).toEqual([]);
    expect(found("npmtoken keyword is not close to the real key in the data\n = '3aAcac6c-9847-23d9-ce65-917590b81cf0'", 'npm')).toEqual([]);
    expect(found('npm token id: 5d3c1a9e-7b42-4f0e-9c8d-2a6b7e1f3c40\n', 'npm')).toEqual([]);
  });
});
