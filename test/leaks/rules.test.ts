/**
 * Every built-in rule: a synthetic example in the provider's published format is found, with its
 * rule and kind, in a line of configuration; placeholders, truncated values and look-alikes with a
 * wrong checksum are not. Every value is made up here from a seeded generator.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, encodeBase62 } from '../../src/core/base62.js';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { compileEngine, detect } from '../../src/leaks/scan/detect.js';
import { BUILTIN_RULES } from '../../src/leaks/scan/rules/index.js';
import { Fake } from './support/corpus.js';

const engine = compileEngine(buildEngineConfig());
const f = new Fake(6060);
const HEX = '0123456789abcdef';
const LOWER36 = 'abcdefghijklmnopqrstuvwxyz0123456789';
const UPPER36 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const URLSAFE = `${BASE62_ALPHABET}_-`;
const B64 = `${BASE62_ALPHABET}+/`;
const b62 = (n: number): string => f.base62(n);
const hex = (n: number): string => f.chars(HEX, n);
const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
const b64json = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64').replace(/=+$/, '');
const b64urljson = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const crcToken = (prefix: string, withPrefix = false): string => {
  const body = b62(30);
  return `${prefix}${body}${encodeBase62(crc32(withPrefix ? `${prefix}${body}` : body), 6)}`;
};
/** A valid Bech32 string computed directly (BIP 173 checksum creation). */
function bech32Encode(hrp: string, data: number[]): string {
  const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  const polymod = (values: number[]): number => {
    let chk = 1;
    for (const v of values) {
      const top = chk >>> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i] ?? 0;
    }
    return chk;
  };
  const expand = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
  const mod = polymod([...expand, ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...check].map((d) => charset[d]).join('')}`;
}

/** 32 letters and digits mixing both cases and digits, as a random Twilio API key secret does. */
const mixed = (n: number): string => `a${f.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1)}${f.digits(1)}${b62(n - 3)}`;
/** 30 lower-case letters and digits with a digit and a letter past `f`, as a random Twitch value has. */
const twitch30 = (): string => `g${f.digits(1)}${f.chars(LOWER36, 28)}`;

/**
 * rule id → a line holding one synthetic secret of that rule, and the secret; for a rule that finds
 * a secret beside the identifier it pairs with, also the other findings that line holds (the
 * identifier's own rule, or the other half of a pair whose halves cannot be told apart).
 */
const EXAMPLES: Record<string, () => [line: string, secret: string, also?: ReadonlyArray<readonly [rule: string, secret: string]>]> = {
  'aws-access-key-id': () => { const s = `AKIA${f.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`; return [`id = ${s}`, s]; },
  'aws-secret-access-key': () => { const s = f.awsSecret(); return [`aws_secret_access_key = ${s}`, s]; },
  'github-classic-token': () => { const s = f.githubClassic(); return [`t: ${s}`, s]; },
  'github-fine-grained-pat': () => { const s = f.githubFineGrained(); return [`t: ${s}`, s]; },
  'stripe-secret-key': () => { const s = `sk_live_${b62(99)}`; return [`k = ${s}`, s]; },
  'stripe-webhook-secret': () => { const s = `whsec_${b62(32)}`; return [`STRIPE_WEBHOOK=${s}`, s]; },
  'slack-token': () => { const s = f.slackToken(); return [`s: ${s}`, s]; },
  'slack-app-token': () => { const s = `xapp-1-A${f.chars(UPPER36, 9)}-${f.digits(13)}-${hex(64)}`; return [`s: ${s}`, s]; },
  'slack-webhook': () => { const s = f.slackWebhook(); return [`url: ${s}`, s]; },
  'google-api-key': () => { const s = f.google(); return [`key=${s}`, s]; },
  'google-oauth-client-secret': () => { const s = `GOCSPX-${f.chars(URLSAFE, 28)}`; return [`"client_secret": "${s}"`, s]; },
  'google-oauth-access-token': () => { const s = `ya29.a0${f.chars(URLSAFE, 150)}`; return [`Authorization: Bearer ${s}`, s]; },
  'openai-api-key': () => { const s = `sk-proj-${f.chars(URLSAFE, 74)}T3BlbkFJ${f.chars(URLSAFE, 74)}`; return [`OPENAI_API_KEY=${s}`, s]; },
  'anthropic-api-key': () => { const s = `sk-ant-api03-${f.chars(URLSAFE, 93)}AA`; return [`ANTHROPIC_API_KEY=${s}`, s]; },
  'anthropic-admin-key': () => { const s = `sk-ant-admin01-${f.chars(URLSAFE, 93)}AA`; return [`key: ${s}`, s]; },
  'azure-storage-account-key': () => { const s = `${f.chars(B64, 86)}==`; return [`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${s};EndpointSuffix=core.windows.net`, s]; },
  'azure-storage-account-key-named': () => { const s = `${f.chars(B64, 86)}==`; return [`storage:\n  account_name: acct\n  account_key: '${s}'`, s]; },
  'azure-devops-pat': () => { const s = f.chars('abcdefghijklmnopqrstuvwxyz234567', 52); return [`AZURE_DEVOPS_PAT=${s}`, s]; },
  'azure-shared-access-key': () => { const s = `${f.chars(B64, 43)}=`; return [`Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${s}`, s]; },
  'azure-ad-client-secret': () => { const s = `${f.chars(URLSAFE, 3)}8Q~${f.chars(`${URLSAFE}.~`, 34)}`; return [`AZURE_CLIENT_SECRET=${s}`, s]; },
  'twilio-api-key': () => { const s = `SK${hex(32)}`; return [`TWILIO_API_KEY_SID = "${s}"`, s]; },
  'twilio-auth-token': () => { const s = hex(32); return [`twilio_auth_token = "${s}"`, s]; },
  'twilio-auth-token-pair': () => { const s = hex(32); return [`client = twilio.rest.Client("AC${hex(32)}", "${s}")`, s]; },
  'twilio-api-key-secret-pair': () => {
    const sid = `SK${hex(32)}`;
    const s = mixed(32);
    return [`client = twilio.rest.Client("${sid}", "${s}", account_sid)`, s, [['twilio-api-key', sid]]];
  },
  'sendgrid-api-key': () => { const s = `SG.${f.chars(URLSAFE, 22)}.${f.chars(URLSAFE, 43)}`; return [`SENDGRID=${s}`, s]; },
  'mailgun-api-key': () => { const s = `key-${hex(32)}`; return [`mg: ${s}`, s]; },
  'mailgun-named-key': () => { const s = `${hex(32)}-${hex(8)}-${hex(8)}`; return [`MAILGUN_API_KEY=${s}`, s]; },
  'mailgun-private-key': () => { const s = `${hex(32)}-${hex(8)}-${hex(8)}`; return [`mg = mailgun.Client(auth=("api", "${s}"))`, s]; },
  'mailchimp-api-key': () => { const s = `${hex(32)}-us${1 + f.int(20)}`; return [`mc = "${s}"`, s]; },
  'npm-access-token': () => { const s = crcToken('npm_'); return [`//registry.npmjs.org/:_authToken=${s}`, s]; },
  'npm-legacy-token': () => { const s = uuid(); return [`//registry.npmjs.org/:_authToken=${s}`, s]; },
  'pypi-token': () => { const s = `pypi-AgEIcHlwaS5vcmc${f.chars(URLSAFE, 150)}`; return [`password = ${s}`, s]; },
  'rubygems-api-key': () => { const s = `rubygems_${hex(48)}`; return [`:rubygems_api_key: ${s}`, s]; },
  'nuget-api-key': () => { const s = `oy2${f.chars(LOWER36, 43)}`; return [`nuget push -k ${s}`, s]; },
  'docker-hub-token': () => { const s = `dckr_pat_${f.chars(URLSAFE, 27)}`; return [`echo ${s} | docker login`, s]; },
  'gitlab-pat': () => { const s = `glpat-${f.chars(URLSAFE, 20)}`; return [`GITLAB_TOKEN=${s}`, s]; },
  'gitlab-runner-token': () => { const s = `glrt-${f.chars(URLSAFE, 20)}`; return [`token = "${s}"`, s]; },
  'gitlab-deploy-token': () => { const s = `gldt-${f.chars(URLSAFE, 20)}`; return [`d: ${s}`, s]; },
  'gitlab-pipeline-trigger-token': () => { const s = `glptt-${hex(40)}`; return [`-F token=${s}`, s]; },
  'gitlab-other-token': () => { const s = `gloas-${f.chars(URLSAFE, 64)}`; return [`secret: ${s}`, s]; },
  'atlassian-api-token': () => { const s = `ATATT3xFfGF0${f.chars(URLSAFE, 171)}=${f.chars('0123456789ABCDEF', 8)}`; return [`JIRA_API_TOKEN=${s}`, s]; },
  'bitbucket-app-password': () => { const s = `ATBB${b62(32)}`; return [`pw: ${s}`, s]; },
  'heroku-api-key': () => { const s = `HRKU-AA${f.chars(URLSAFE, 58)}`; return [`HEROKU_API_KEY=${s}`, s]; },
  'heroku-legacy-api-key': () => { const s = uuid(); return [`HEROKU_API_KEY=${s}`, s]; },
  'digitalocean-token': () => { const s = `dop_v1_${hex(64)}`; return [`DO=${s}`, s]; },
  'cloudflare-origin-ca-key': () => { const s = `v1.0-${hex(24)}-${hex(146)}`; return [`key: ${s}`, s]; },
  'cloudflare-api-token': () => { const s = f.chars(URLSAFE, 40); return [`CLOUDFLARE_API_TOKEN=${s}`, s]; },
  'cloudflare-global-api-key': () => { const s = hex(37); return [`cloudflare_api_key = "${s}"`, s]; },
  'fastly-api-token': () => { const s = f.chars(URLSAFE, 32); return [`FASTLY_API_TOKEN=${s}`, s]; },
  'netlify-token': () => { const s = `nfp_${b62(36)}`; return [`n: ${s}`, s]; },
  'netlify-named-token': () => { const s = f.chars(URLSAFE, 43); return [`NETLIFY_AUTH_TOKEN=${s}`, s]; },
  'vercel-token': () => { const s = b62(24); return [`VERCEL_TOKEN=${s}`, s]; },
  'shopify-access-token': () => { const s = `shpat_${hex(32)}`; return [`s: ${s}`, s]; },
  'shopify-shared-secret': () => { const s = `shpss_${hex(32)}`; return [`s: ${s}`, s]; },
  'square-access-token': () => { const s = `EAAA${f.chars(URLSAFE, 60)}`; return [`SQUARE=${s}`, s]; },
  'square-oauth-secret': () => { const s = `sq0csp-${f.chars(URLSAFE, 43)}`; return [`sq: ${s}`, s]; },
  'square-sandbox-access-token': () => { const s = `sandbox-sq0atb-${f.chars(URLSAFE, 22)}`; return [`SQUARE_SANDBOX_TOKEN=${s}`, s]; },
  'braintree-access-token': () => { const s = `access_token$production$${f.chars(LOWER36, 16)}$${hex(32)}`; return [`bt = "${s}"`, s]; },
  'facebook-app-access-token': () => { const s = `${f.digits(16)}|${f.chars(URLSAFE, 27)}`; return [`curl "https://graph.facebook.com/debug_token?access_token=${s}"`, s]; },
  'twitch-token': () => { const s = f.chars(LOWER36, 30); return [`TWITCH_CLIENT_SECRET=${s}`, s]; },
  'twitch-client-credentials-pair': () => {
    const id = twitch30();
    const s = twitch30();
    return [`twitch:\n  - ${id}\n  - ${s}`, id, [['twitch-client-credentials-pair-second', s]]];
  },
  'twitch-client-credentials-pair-second': () => {
    const id = twitch30();
    const s = twitch30();
    return [`twitch:\n  - ${id}\n  - ${s}`, s, [['twitch-client-credentials-pair', id]]];
  },
  'twitch-chat-oauth-token': () => { const s = twitch30(); return [`PASS oauth:${s}`, s]; },
  'discord-bot-token': () => {
    const id = Buffer.from(f.digits(18)).toString('base64url');
    const s = `${id}.${f.chars(URLSAFE, 6)}.${f.chars(URLSAFE, 38)}`;
    return [`discord_bot = "${s}"`, s];
  },
  'discord-client-secret': () => { const s = `Z${f.chars(URLSAFE, 31)}`; return [`DISCORD_CLIENT_SECRET=${s}`, s]; },
  'discord-client-secret-beside-id': () => { const s = `Z${f.chars(URLSAFE, 31)}`; return [`[discord]\nclient_id = ${f.digits(18)}\nclient_secret = ${s}`, s]; },
  'discord-webhook': () => { const s = `https://discord.com/api/webhooks/${f.digits(18)}/${f.chars(URLSAFE, 68)}`; return [`hook: ${s}`, s]; },
  'telegram-bot-token': () => { const s = `${f.digits(10)}:AA${f.chars(URLSAFE, 33)}`; return [`BOT=${s}`, s]; },
  'datadog-api-key': () => { const s = hex(32); return [`DD_API_KEY=${s}`, s]; },
  'datadog-app-key': () => { const s = hex(40); return [`datadog_app_key: "${s}"`, s]; },
  'newrelic-user-api-key': () => { const s = `NRAK-${f.chars(UPPER36, 27)}`; return [`NR=${s}`, s]; },
  'newrelic-license-key': () => { const s = `${hex(32)}FFFFNRAL`; return [`license_key: ${s}`, s]; },
  'newrelic-browser-key': () => { const s = `NRBR-${hex(19)}`; return [`NEW_RELIC_BROWSER_KEY=${s}`, s]; },
  'newrelic-insert-key': () => { const s = `NRII-${f.chars(URLSAFE, 32)}`; return [`k: ${s}`, s]; },
  'sentry-user-token': () => { const s = `sntryu_${hex(64)}`; return [`SENTRY_AUTH_TOKEN=${s}`, s]; },
  'sentry-org-token': () => {
    const s = `sntrys_${b64json({ iat: 1700000000.5, url: 'https://sentry.io', region_url: 'https://us.sentry.io', org: 'acme' })}_${f.chars(B64, 43)}`;
    return [`SENTRY_AUTH_TOKEN=${s}`, s];
  },
  'grafana-cloud-token': () => { const s = `glc_${b64json({ o: '123456', n: 'stack-1-token', k: b62(24), m: { r: 'us' } })}`; return [`G=${s}`, s]; },
  'grafana-service-account-token': () => { const s = `glsa_${b62(32)}_${hex(8)}`; return [`G=${s}`, s]; },
  'grafana-api-key': () => { const s = b64json({ k: b62(32), n: 'deploy', id: 1 }); return [`grafana: ${s}`, s]; },
  'vault-token': () => { const s = `hvs.${f.chars(URLSAFE, 95)}`; return [`VAULT_TOKEN=${s}`, s]; },
  'terraform-cloud-token': () => { const s = `${b62(14)}.atlasv1.${f.chars(URLSAFE, 67)}`; return [`token = "${s}"`, s]; },
  'doppler-token': () => { const s = `dp.st.${b62(43)}`; return [`DOPPLER_TOKEN=${s}`, s]; },
  'pulumi-access-token': () => { const s = `pul-${hex(40)}`; return [`PULUMI_ACCESS_TOKEN=${s}`, s]; },
  '1password-service-account-token': () => {
    const s = `ops_${b64json({ signInAddress: 'my.1password.com', userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: b62(22) }, email: 'x@1passwordserviceaccounts.com', srpX: hex(64), muk: { alg: 'A256GCM', ext: true, k: b62(43), key_ops: ['encrypt', 'decrypt'], kty: 'oct', kid: 'mp' }, secretKey: 'A3-ABCDEF-GHIJKL-MNOPQ-RSTUV-WXYZ0-12345' })}`;
    return [`OP_SERVICE_ACCOUNT_TOKEN=${s}`, s];
  },
  '1password-secret-key': () => { const s = `A3-${f.chars(UPPER36, 6)}-${f.chars(UPPER36, 11)}-${f.chars(UPPER36, 5)}-${f.chars(UPPER36, 5)}-${f.chars(UPPER36, 5)}`; return [`secret key: ${s}`, s]; },
  'age-secret-key': () => {
    const s = bech32Encode('age-secret-key-', Array.from({ length: 52 }, () => f.int(32))).toUpperCase();
    return [`# created: 2026-01-01\n${s}`, s];
  },
  'huggingface-token': () => { const s = `hf_${f.chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 34)}`; return [`HF_TOKEN=${s}`, s]; },
  'huggingface-org-token': () => { const s = `api_org_${f.chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 34)}`; return [`t = "${s}"`, s]; },
  'databricks-token': () => { const s = `dapi${hex(32)}`; return [`DATABRICKS_TOKEN=${s}`, s]; },
  'snowflake-credential': () => { const s = f.password(); return [`snowflake_password = "${s}"`, s]; },
  'postman-api-key': () => { const s = `PMAK-${hex(24)}-${hex(34)}`; return [`X-Api-Key: ${s}`, s]; },
  'linear-api-key': () => { const s = `lin_api_${b62(40)}`; return [`LINEAR=${s}`, s]; },
  'notion-token': () => { const s = `ntn_${f.digits(11)}${b62(35)}`; return [`NOTION=${s}`, s]; },
  'okta-api-token': () => { const s = `00${f.chars(URLSAFE, 40)}`; return [`OKTA_API_TOKEN=${s}`, s]; },
  'okta-api-token-with-domain': () => { const s = `00${mixed(40)}`; return [`client = okta.Client(orgUrl: "https://dev-${f.digits(6)}.okta.com", token: "${s}")`, s]; },
  'auth0-client-secret': () => { const s = f.chars(URLSAFE, 64); return [`AUTH0_CLIENT_SECRET=${s}`, s]; },
  'alibaba-access-key-id': () => { const s = `LTAI${b62(20)}`; return [`ak: ${s}`, s]; },
  'alibaba-access-key-secret-pair': () => {
    const id = `LTAI${b62(20)}`;
    const s = mixed(30);
    return [`credentials = AccessKeyCredential("${id}", "${s}")`, s, [['alibaba-access-key-id', id]]];
  },
  'facebook-access-token': () => { const s = `EAAG${b62(180)}`; return [`fb = "${s}"`, s]; },
  'dropbox-access-token': () => { const s = `sl.${f.chars(URLSAFE, 138)}`; return [`DROPBOX=${s}`, s]; },
  'airtable-pat': () => { const s = `pat${b62(14)}.${hex(64)}`; return [`AIRTABLE=${s}`, s]; },
  'contentful-pat': () => { const s = `CFPAT-${f.chars(URLSAFE, 43)}`; return [`c: ${s}`, s]; },
  'figma-pat': () => { const s = `figd_${f.chars(URLSAFE, 40)}`; return [`f: ${s}`, s]; },
  'planetscale-token': () => { const s = `pscale_tkn_${f.chars(URLSAFE, 43)}`; return [`p: ${s}`, s]; },
  'sourcegraph-token': () => { const s = `sgp_${hex(16)}_${hex(40)}`; return [`SRC_ACCESS_TOKEN=${s}`, s]; },
  'supabase-token': () => { const s = `sbp_${hex(40)}`; return [`SUPABASE_ACCESS_TOKEN=${s}`, s]; },
  'groq-api-key': () => { const s = `gsk_${b62(52)}`; return [`GROQ_API_KEY=${s}`, s]; },
  'replicate-api-token': () => { const s = `r8_${b62(37)}`; return [`REPLICATE_API_TOKEN=${s}`, s]; },
  'perplexity-api-key': () => { const s = `pplx-${b62(48)}`; return [`k=${s}`, s]; },
  'xai-api-key': () => { const s = `xai-${b62(80)}`; return [`XAI_API_KEY=${s}`, s]; },
  'tailscale-key': () => { const s = `tskey-auth-${b62(12)}CNTRL-${b62(33)}`; return [`TS_AUTHKEY=${s}`, s]; },
  'jfrog-api-key': () => { const s = `AKCp${b62(69)}`; return [`j: ${s}`, s]; },
  'jfrog-reference-token': () => { const s = `cmVmdGtu${b62(56)}`; return [`j: ${s}`, s]; },
  'dynatrace-api-token': () => { const s = `dt0c01.${f.chars(UPPER36, 24)}.${f.chars(UPPER36, 64)}`; return [`DT=${s}`, s]; },
  'brevo-api-key': () => { const s = `xkeysib-${hex(64)}-${b62(16)}`; return [`b: ${s}`, s]; },
  'launchdarkly-key': () => { const s = `sdk-${uuid()}`; return [`LD_SDK_KEY=${s}`, s]; },
  'plaid-access-token': () => { const s = `access-production-${uuid()}`; return [`p: ${s}`, s]; },
  'teams-workflow-webhook': () => {
    const s = `https://default${hex(30)}.${f.digits(2)}.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/${hex(32)}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${f.chars(URLSAFE, 43)}`;
    return [`TEAMS_WEBHOOK=${s}`, s];
  },
  'teams-webhook': () => { const s = `https://acme.webhook.office.com/webhookb2/${uuid()}@${uuid()}/IncomingWebhook/${hex(32)}/${uuid()}`; return [`url: ${s}`, s]; },
  'cloudinary-url': () => { const s = f.chars(URLSAFE, 27); return [`CLOUDINARY_URL=cloudinary://${f.digits(15)}:${s}@acme`, s]; },
  'easypost-api-key': () => { const s = `EZAK${b62(54)}`; return [`e: ${s}`, s]; },
  'flutterwave-secret-key': () => { const s = `FLWSECK-${hex(32)}-X`; return [`f: ${s}`, s]; },
  'duffel-api-token': () => { const s = `duffel_live_${f.chars(URLSAFE, 43)}`; return [`d: ${s}`, s]; },
  'shippo-api-token': () => { const s = `shippo_live_${hex(40)}`; return [`s: ${s}`, s]; },
  'mapbox-secret-token': () => { const s = `sk.${b64urljson({ u: 'acme', a: b62(25) })}.${f.chars(URLSAFE, 22)}`; return [`MAPBOX=${s}`, s]; },
  'fcm-server-key': () => { const s = `AAAA${f.chars(URLSAFE, 7)}:APA91b${f.chars(URLSAFE, 134)}`; return [`fcm: ${s}`, s]; },
  'adafruit-io-key': () => { const s = `aio_${b62(28)}`; return [`a: ${s}`, s]; },
  'prefect-api-key': () => { const s = `pnu_${b62(36)}`; return [`p: ${s}`, s]; },
  'clojars-deploy-token': () => { const s = `CLOJARS_${f.chars(LOWER36, 60)}`; return [`c: ${s}`, s]; },
  'typeform-pat': () => { const s = `tfp_${f.chars(URLSAFE, 44)}`; return [`t: ${s}`, s]; },
  'harness-token': () => { const s = `pat.${f.chars(URLSAFE, 22)}.${hex(24)}.${b62(20)}`; return [`h: ${s}`, s]; },
  'infracost-api-key': () => { const s = `ico-${b62(32)}`; return [`i: ${s}`, s]; },
  'scalingo-api-token': () => { const s = `tk-us-${f.chars(URLSAFE, 48)}`; return [`s: ${s}`, s]; },
  'readme-api-key': () => { const s = `rdme_${f.chars(LOWER36, 70)}`; return [`r: ${s}`, s]; },
  'private-key': () => { const s = f.pemBody(600); return [`-----BEGIN PRIVATE KEY-----\n${(s.match(/.{1,64}/g) ?? []).join('\n')}\n-----END PRIVATE KEY-----`, s]; },
  jwt: () => { const s = f.jwt(); return [`id_token: ${s}`, s]; },
  'connection-string': () => { const pw = f.password().replace(/[@/:?#%]/g, ''); return [`DATABASE_URL=postgres://app:${pw}@db:5432/app`, pw]; },
  'generic-secret-assignment': () => { const s = f.password(); return [`db_password = "${s}"`, s]; },
};

/** rule id → lines that must not be reported by any rule: placeholders, truncated values, wrong checksums. */
const NEGATIVES: Record<string, readonly string[]> = {
  'npm-access-token': [`NPM_TOKEN=${crcToken('npm_').slice(0, -1)}Z`, 'npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'age-secret-key': [`AGE-SECRET-KEY-1${'QPZRY9X8GF'.repeat(5)}QPZRY9X8`],
  'discord-client-secret': ['DISCORD_CLIENT_SECRET=your-discord-client-secret-here', `DISCORD_CLIENT_SECRET=${'0'.repeat(32)}`],
  'discord-client-secret-beside-id': ['[discord]\nclient_id = 938766454886103981\nclient_secret = <your-client-secret-goes-here!!>'],
  'discord-bot-token': [`discord_bot = "${Buffer.from('not-a-snowflake-id').toString('base64url')}.${b62(6)}.${b62(38)}"`],
  'sentry-org-token': [`sntrys_eyJ${b62(60)}_${b62(43)}`],
  'grafana-cloud-token': ['API_KEY="glc_111111111111111111111111111111111111111111="'],
  'openai-api-key': [`sk-${b62(48)}`, 'OPENAI_API_KEY=sk-your-key-here'],
  'anthropic-api-key': [`sk-ant-api03-${f.chars(URLSAFE, 60)}AA`, `sk-ant-api03-${f.chars(URLSAFE, 93)}BB`],
  'gitlab-pat': ['glpat-XXXXXXXXXXX-XXXXXXXX', 'glpat-xxxxxxxxxxxxxxxxxxxx'],
  'stripe-webhook-secret': ['whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'datadog-api-key': [`DD_API_KEY_SHA=${hex(32)}`, 'DD_API_KEY=<your-datadog-api-key>'],
  'twilio-api-key': ['twilio: SKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'mailchimp-api-key': ['mc = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-us6"'],
  'shopify-access-token': ['shpat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'pypi-token': ['pypi-AgEIcHlwaS5vcmc'],
  'launchdarkly-key': ['LD_SDK_KEY=sdk-00000000-0000-0000-0000-000000000000'],
  'vault-token': ['VAULT_TOKEN=hvs.xxxxxxxxxxxxxxxxxxxxxxxx'],
  // Azurite's documented emulator key (learn.microsoft.com, "Use the Azurite emulator"): public.
  'azure-storage-account-key-named': [
    'AccountKey: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="',
    `account_key = "${'A'.repeat(86)}=="`,
    `account_key_sha256 = "${hex(64)}"`,
  ],
  'azure-storage-account-key': ['DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;'],
  'azure-devops-pat': [`AZURE_DEVOPS_PAT=${'x'.repeat(52)}`, `azure_build_id: ${'1'.repeat(52)}`],
  'teams-workflow-webhook': [`https://default${hex(30)}.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/${hex(32)}/triggers/manual/paths/invoke?sig=short`],
  'newrelic-license-key': [`license_key: ${'f'.repeat(32)}FFFFNRAL`],
  // Values without a prefix, found beside their provider's name or the identifier they pair with:
  // not when their own name says digest or identifier, nor when they are trivial.
  'twilio-auth-token': [`TWILIO_AUTH_TOKEN_SHA256 = "${hex(32)}"`, `twilio_token_checksum: ${hex(32)}`],
  'twilio-auth-token-pair': [
    `twilio:\n  account_sid: AC${hex(32)}\n  webhook_sha: ${hex(32)}`,
    `twilio: { sid: "AC${hex(32)}", request_id: "${hex(32)}" }`,
    `twilio_account_sid: AC${hex(32)}\ntwilio_token: 0123456789abcdef0123456789abcdef`,
  ],
  'twitch-client-credentials-pair': [
    `twitch:\n  user_id: ${twitch30()}\n  channel_id: ${twitch30()}`,
    `twitch: ${hex(30)} ${hex(30)}`,
    `twitch: ${'abcdefghijklmno'.repeat(2)} ${'pqrstuvwxyzabcd'.repeat(2)}`,
  ],
  'okta-api-token-with-domain': [`okta: https://dev-1.okta.com\nsession_id: 00${mixed(40)}`, `https://dev-1.okta.com 00${'0'.repeat(40)}`],
  'heroku-legacy-api-key': [`heroku_app_id: "${uuid()}"`, 'HEROKU_API_KEY=00000000-0000-0000-0000-000000000000', `heroku_key_id = ${uuid()}`],
  'npm-legacy-token': [`npm_token_id = "${uuid()}"`, `package_id = "${uuid()}"`],
  'facebook-app-access-token': [`facebook: { app_id: ${f.digits(16)} }`, `facebook version ${f.digits(16)}|${'a'.repeat(27)}`],
  'mailgun-private-key': ['mailgun: 00000000000000000000000000000000-00000000-00000000', 'mailgun: 0123456789abcdef0123456789abcdef-01234567-89abcdef', `mailgun_key_sha: ${hex(32)}-${hex(8)}-${hex(8)}`],
};

describe('built-in rules', () => {
  it('has at least 60 provider and generic rules, each with keywords, a unique id and an example here', () => {
    expect(BUILTIN_RULES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BUILTIN_RULES.map((r) => r.id)).size).toBe(BUILTIN_RULES.length);
    for (const rule of BUILTIN_RULES) {
      expect(rule.keywords.length, rule.id).toBeGreaterThan(0);
      expect(EXAMPLES[rule.id], rule.id).toBeDefined();
    }
  });

  for (const rule of BUILTIN_RULES) {
    it(`${rule.id}: finds a synthetic example, and no placeholder or look-alike`, () => {
      const example = EXAMPLES[rule.id];
      if (!example) throw new Error(`no example for ${rule.id}`);
      for (let i = 0; i < 3; i++) {
        const [line, secret, also = []] = example();
        const found = detect(engine, `# settings\n${line}\n`, 'config.txt');
        const kindOf = (id: string): string | undefined => BUILTIN_RULES.find((r) => r.id === id)?.kind;
        const expected = [[rule.id, rule.kind, secret], ...also.map(([id, s]) => [id, kindOf(id), s])];
        const byText = (a: readonly unknown[], b: readonly unknown[]): number => String(a).localeCompare(String(b));
        expect(found.map((x) => [x.rule, x.kind, x.secret]).sort(byText), line).toEqual(expected.sort(byText));
      }
      for (const line of NEGATIVES[rule.id] ?? []) expect(detect(engine, line, 'config.txt'), line).toEqual([]);
    });
  }
});
