import type { RuleSpec } from '../types.js';
import { rules as adafruit } from './adafruit.js';
import { rules as age } from './age.js';
import { rules as airtable } from './airtable.js';
import { rules as alibaba } from './alibaba.js';
import { rules as anthropic } from './anthropic.js';
import { rules as atlassian } from './atlassian.js';
import { rules as auth0 } from './auth0.js';
import { rules as aws } from './aws.js';
import { rules as azure } from './azure.js';
import { rules as bitbucket } from './bitbucket.js';
import { rules as brevo } from './brevo.js';
import { rules as clojars } from './clojars.js';
import { rules as cloudflare } from './cloudflare.js';
import { rules as cloudinary } from './cloudinary.js';
import { rules as connectionString } from './connection-string.js';
import { rules as contentful } from './contentful.js';
import { rules as databricks } from './databricks.js';
import { rules as datadog } from './datadog.js';
import { rules as digitalocean } from './digitalocean.js';
import { rules as discord } from './discord.js';
import { rules as docker } from './docker.js';
import { rules as doppler } from './doppler.js';
import { rules as dropbox } from './dropbox.js';
import { rules as duffel } from './duffel.js';
import { rules as dynatrace } from './dynatrace.js';
import { rules as easypost } from './easypost.js';
import { rules as facebook } from './facebook.js';
import { rules as fastly } from './fastly.js';
import { rules as figma } from './figma.js';
import { rules as firebase } from './firebase.js';
import { rules as flutterwave } from './flutterwave.js';
import { rules as generic } from './generic.js';
import { rules as github } from './github.js';
import { rules as gitlab } from './gitlab.js';
import { rules as google } from './google.js';
import { rules as grafana } from './grafana.js';
import { rules as groq } from './groq.js';
import { rules as harness } from './harness.js';
import { rules as hashicorp } from './hashicorp.js';
import { rules as heroku } from './heroku.js';
import { rules as huggingface } from './huggingface.js';
import { rules as infracost } from './infracost.js';
import { rules as jfrog } from './jfrog.js';
import { rules as jwt } from './jwt.js';
import { rules as launchdarkly } from './launchdarkly.js';
import { rules as linear } from './linear.js';
import { rules as mailchimp } from './mailchimp.js';
import { rules as mailgun } from './mailgun.js';
import { rules as mapbox } from './mapbox.js';
import { rules as microsoftTeams } from './microsoft-teams.js';
import { rules as netlify } from './netlify.js';
import { rules as newrelic } from './newrelic.js';
import { rules as notion } from './notion.js';
import { rules as npm } from './npm.js';
import { rules as nuget } from './nuget.js';
import { rules as okta } from './okta.js';
import { rules as onePassword } from './onepassword.js';
import { rules as openai } from './openai.js';
import { rules as paypal } from './paypal.js';
import { rules as perplexity } from './perplexity.js';
import { rules as plaid } from './plaid.js';
import { rules as planetscale } from './planetscale.js';
import { rules as postman } from './postman.js';
import { rules as prefect } from './prefect.js';
import { rules as privateKey } from './private-key.js';
import { rules as pulumi } from './pulumi.js';
import { rules as pypi } from './pypi.js';
import { rules as readme } from './readme.js';
import { rules as replicate } from './replicate.js';
import { rules as rubygems } from './rubygems.js';
import { rules as scalingo } from './scalingo.js';
import { rules as sendgrid } from './sendgrid.js';
import { rules as sentry } from './sentry.js';
import { rules as shippo } from './shippo.js';
import { rules as shopify } from './shopify.js';
import { rules as slack } from './slack.js';
import { rules as snowflake } from './snowflake.js';
import { rules as sourcegraph } from './sourcegraph.js';
import { rules as square } from './square.js';
import { rules as stripe } from './stripe.js';
import { rules as supabase } from './supabase.js';
import { rules as tailscale } from './tailscale.js';
import { rules as telegram } from './telegram.js';
import { rules as twilio } from './twilio.js';
import { rules as twitch } from './twitch.js';
import { rules as typeform } from './typeform.js';
import { rules as vercel } from './vercel.js';
import { rules as xai } from './xai.js';

/**
 * The built-in rule pack: one data module per provider. Keyturn's own secrets are not here:
 * their rule is built from the configured prefixes ({@link keyturnRule}).
 */
export const BUILTIN_RULES: readonly RuleSpec[] = [
  ...aws,
  ...github,
  ...stripe,
  ...slack,
  ...google,
  ...openai,
  ...anthropic,
  ...azure,
  ...twilio,
  ...sendgrid,
  ...mailgun,
  ...mailchimp,
  ...npm,
  ...pypi,
  ...rubygems,
  ...nuget,
  ...docker,
  ...gitlab,
  ...atlassian,
  ...bitbucket,
  ...heroku,
  ...digitalocean,
  ...cloudflare,
  ...fastly,
  ...netlify,
  ...vercel,
  ...shopify,
  ...square,
  ...paypal,
  ...twitch,
  ...discord,
  ...telegram,
  ...datadog,
  ...newrelic,
  ...sentry,
  ...grafana,
  ...hashicorp,
  ...doppler,
  ...pulumi,
  ...onePassword,
  ...age,
  ...huggingface,
  ...databricks,
  ...snowflake,
  ...postman,
  ...linear,
  ...notion,
  ...okta,
  ...auth0,
  ...alibaba,
  ...facebook,
  ...dropbox,
  ...airtable,
  ...contentful,
  ...figma,
  ...planetscale,
  ...sourcegraph,
  ...supabase,
  ...groq,
  ...replicate,
  ...perplexity,
  ...xai,
  ...tailscale,
  ...jfrog,
  ...dynatrace,
  ...brevo,
  ...launchdarkly,
  ...plaid,
  ...microsoftTeams,
  ...cloudinary,
  ...easypost,
  ...flutterwave,
  ...duffel,
  ...shippo,
  ...mapbox,
  ...firebase,
  ...adafruit,
  ...prefect,
  ...clojars,
  ...typeform,
  ...harness,
  ...infracost,
  ...scalingo,
  ...readme,
  ...privateKey,
  ...jwt,
  ...connectionString,
  ...generic,
];

/** Prefix roots recognised when none are configured: `kt`, `kt_live`, `ktr`, … (anything starting `kt`). */
export const DEFAULT_KEYTURN_PREFIXES: readonly string[] = ['kt'];

/**
 * The rule for keyturn secrets whose prefix starts with one of `prefixes` (`*`: any prefix).
 * Every match is confirmed by the CRC-32 check, so it never reports a look-alike.
 *
 * @example
 * ```ts
 * keyturnRule(['kt']).keywords; // ['kt']
 * ```
 */
export function keyturnRule(prefixes: readonly string[]): RuleSpec {
  const any = prefixes.includes('*');
  const roots = any ? '[a-z]' : `(?:${prefixes.map(escapeRegex).join('|')})`;
  return {
    id: 'keyturn-secret',
    kind: 'keyturn',
    description: 'keyturn secret (API key, refresh token or client secret), checksum verified',
    keywords: any ? [] : [...prefixes],
    pattern: `\\b(${roots}[a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{49})(?![A-Za-z0-9_])`,
    validate: 'keyturn',
    priority: 0,
  };
}

/** Escapes regex metacharacters of a literal. */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
