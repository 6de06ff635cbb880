/**
 * Third-party labelled examples for the leak scanner: the true- and false-positive examples that
 * gitleaks keeps beside each of its rules (github.com/gitleaks/gitleaks,
 * cmd/generate/config/rules/*.go, at the commit named in test/vectors/gitleaks/examples.json),
 * extracted as data by test/vectors/gitleaks/extract.py. keyturn's rules were not written from
 * them; they measure recall and precision on examples keyturn's authors did not write.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detect, type CompiledEngine } from '../../../src/leaks/scan/detect.js';

/** One gitleaks rule's examples. */
export interface VectorRule {
  readonly gitleaksRule: string;
  /** The gitleaks source file, e.g. `github.go`. */
  readonly file: string;
  readonly positives: readonly string[];
  readonly negatives: readonly string[];
  /** Examples gitleaks builds with helpers the extractor does not evaluate (left out). */
  readonly skipped: number;
}

export interface VectorSet {
  readonly source: { readonly repository: string; readonly path: string; readonly commit: string };
  readonly rules: readonly VectorRule[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** Reads test/vectors/gitleaks/examples.json. */
export function loadGitleaksVectors(): VectorSet {
  return JSON.parse(readFileSync(join(HERE, '..', '..', 'vectors', 'gitleaks', 'examples.json'), 'utf8')) as VectorSet;
}

/**
 * gitleaks rule file → the keyturn provider (rule kind) that covers it. Files not listed are
 * providers keyturn has no rule for; they are reported apart and not scored.
 */
export const COVERED: Readonly<Record<string, string>> = {
  '1password.go': '1password', 'adafruit.go': 'adafruit', 'age.go': 'age', 'airtable.go': 'airtable', 'alibaba.go': 'alibaba',
  'anthropic.go': 'anthropic', 'artifactory.go': 'jfrog', 'atlassian.go': 'atlassian', 'aws.go': 'aws', 'azure.go': 'azure',
  'bitbucket.go': 'bitbucket', 'clojars.go': 'clojars', 'cloudflare.go': 'cloudflare', 'contentful.go': 'contentful',
  'databricks.go': 'databricks', 'datadog.go': 'datadog', 'digitalocean.go': 'digitalocean', 'discord.go': 'discord',
  'doppler.go': 'doppler', 'dropbox.go': 'dropbox', 'duffel.go': 'duffel', 'dynatrace.go': 'dynatrace', 'easypost.go': 'easypost',
  'facebook.go': 'facebook', 'fastly.go': 'fastly', 'flutterwave.go': 'flutterwave', 'gcp.go': 'google', 'generic.go': 'generic',
  'github.go': 'github', 'gitlab.go': 'gitlab', 'grafana.go': 'grafana', 'harness.go': 'harness', 'hashicorp.go': 'hashicorp',
  'hashicorp_vault.go': 'hashicorp', 'heroku.go': 'heroku', 'huggingface.go': 'huggingface', 'infracost.go': 'infracost',
  'jfrog.go': 'jfrog', 'jwt.go': 'jwt', 'launchdarkly.go': 'launchdarkly', 'linear.go': 'linear', 'mailchimp.go': 'mailchimp',
  'mailgun.go': 'mailgun', 'mapbox.go': 'mapbox', 'netlify.go': 'netlify', 'newrelic.go': 'newrelic', 'notion.go': 'notion',
  'npm.go': 'npm', 'nuget.go': 'nuget', 'okta.go': 'okta', 'openai.go': 'openai', 'perplexity.go': 'perplexity',
  'planetscale.go': 'planetscale', 'plaid.go': 'plaid', 'postman.go': 'postman', 'prefect.go': 'prefect',
  'privatekey.go': 'private-key', 'pulumi.go': 'pulumi', 'pypi.go': 'pypi', 'readme.go': 'readme', 'rubygems.go': 'rubygems',
  'scalingo.go': 'scalingo', 'sendgrid.go': 'sendgrid', 'sendinblue.go': 'brevo', 'sentry.go': 'sentry', 'shippo.go': 'shippo',
  'shopify.go': 'shopify', 'slack.go': 'slack', 'sourcegraph.go': 'sourcegraph', 'square.go': 'square', 'stripe.go': 'stripe',
  'teams.go': 'microsoft-teams', 'telegram.go': 'telegram', 'twilio.go': 'twilio', 'twitch.go': 'twitch', 'typeform.go': 'typeform',
};

export interface VectorScore {
  readonly positives: number;
  /** Positives with at least one finding. */
  readonly found: number;
  readonly negatives: number;
  /** Negatives with a finding: false positives. */
  readonly falsePositives: number;
  readonly recall: number;
  readonly precision: number;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 1 : a / b;
}

/** Whether keyturn reports anything in each positive and negative example of `rule`. */
export function runRule(engine: CompiledEngine, rule: VectorRule): { found: boolean[]; falsePositive: boolean[] } {
  return {
    found: rule.positives.map((text) => detect(engine, text, 'example.txt').length > 0),
    falsePositive: rule.negatives.map((text) => detect(engine, text, 'example.txt').length > 0),
  };
}

/**
 * Precision and recall per keyturn provider over the gitleaks examples of the providers keyturn
 * covers: a positive counts as found when keyturn reports anything in it, a negative as a false
 * positive when keyturn reports anything in it (negatives that are another gitleaks rule's
 * positives excepted); precision is found / (found + false positives).
 */
export function scoreVectors(engine: CompiledEngine, set: VectorSet = loadGitleaksVectors()): {
  perProvider: Record<string, VectorScore>;
  perRule: Record<string, VectorScore & { provider: string }>;
  overall: VectorScore;
  uncovered: string[];
} {
  const perProvider: Record<string, VectorScore> = {};
  const perRule: Record<string, VectorScore & { provider: string }> = {};
  const uncovered = new Set<string>();
  const add = (a: VectorScore | undefined, p: number, f: number, n: number, fp: number): VectorScore => {
    const positives = (a?.positives ?? 0) + p;
    const found = (a?.found ?? 0) + f;
    const negatives = (a?.negatives ?? 0) + n;
    const falsePositives = (a?.falsePositives ?? 0) + fp;
    return { positives, found, negatives, falsePositives, recall: ratio(found, positives), precision: ratio(found, found + falsePositives) };
  };
  let overall: VectorScore | undefined;
  const allPositives = new Set(set.rules.flatMap((r) => r.positives));
  for (const rule of set.rules) {
    const provider = COVERED[rule.file];
    if (provider === undefined) {
      uncovered.add(rule.file.replace(/\.go$/, ''));
      continue;
    }
    // A negative of one gitleaks rule may be a true example of another (an Anthropic admin key is a
    // negative of the API-key rule): those are secrets all the same and are not counted.
    const negatives = rule.negatives.filter((n) => !allPositives.has(n));
    const { found, falsePositive } = runRule(engine, { ...rule, negatives });
    const f = found.filter(Boolean).length;
    const fp = falsePositive.filter(Boolean).length;
    perRule[rule.gitleaksRule] = { provider, ...add(undefined, found.length, f, falsePositive.length, fp) };
    perProvider[provider] = add(perProvider[provider], found.length, f, falsePositive.length, fp);
    overall = add(overall, found.length, f, falsePositive.length, fp);
  }
  return { perProvider, perRule, overall: overall ?? add(undefined, 0, 0, 0, 0), uncovered: [...uncovered].sort() };
}

/**
 * A second third-party labelled set: the inputs of trufflehog's detector pattern tests
 * (github.com/trufflesecurity/trufflehog, pkg/detectors/<detector>/*_test.go, AGPL-3.0; only the
 * inputs and their labels are carried, as data), for the detectors of providers keyturn covers,
 * extracted by test/vectors/trufflehog/extract.py at the commit named in examples.json. A
 * positive is an input the test wants a secret found in; a negative, one it wants nothing found in.
 */
export interface TrufflehogDetector {
  readonly detector: string;
  /** The keyturn provider (rule kind) that covers the detector. */
  readonly provider: string;
  readonly files: readonly string[];
  readonly positives: readonly string[];
  readonly negatives: readonly string[];
  /** Test cases built with Go the extractor does not evaluate (left out). */
  readonly skipped: number;
}

export interface TrufflehogSet {
  readonly source: { readonly repository: string; readonly path: string; readonly commit: string };
  readonly detectors: readonly TrufflehogDetector[];
}

/** Reads test/vectors/trufflehog/examples.json. */
export function loadTrufflehogVectors(): TrufflehogSet {
  return JSON.parse(readFileSync(join(HERE, '..', '..', 'vectors', 'trufflehog', 'examples.json'), 'utf8')) as TrufflehogSet;
}

/**
 * Precision and recall per keyturn provider on trufflehog's test inputs. A positive is found when
 * keyturn reports anything in it. A trufflehog negative says only that its detector must not match
 * (many are another provider's key, or a value that is still a secret under a secret's name, one
 * character changed): `perProvider`/`overall` count it as a false positive when keyturn reports a
 * finding of the detector's own provider there; `strict` counts any finding at all.
 * `misses` and `falsePositives` (any finding) name the inputs.
 */
export function scoreTrufflehog(engine: CompiledEngine, set: TrufflehogSet = loadTrufflehogVectors()): {
  perProvider: Record<string, VectorScore>;
  overall: VectorScore;
  strict: VectorScore;
  misses: Array<{ detector: string; input: string }>;
  falsePositives: Array<{ detector: string; input: string; kinds: string[] }>;
} {
  const perProvider: Record<string, VectorScore> = {};
  const misses: Array<{ detector: string; input: string }> = [];
  const falsePositives: Array<{ detector: string; input: string; kinds: string[] }> = [];
  const add = (a: VectorScore | undefined, p: number, f: number, n: number, fp: number): VectorScore => {
    const positives = (a?.positives ?? 0) + p;
    const found = (a?.found ?? 0) + f;
    const negatives = (a?.negatives ?? 0) + n;
    const falsePositivesN = (a?.falsePositives ?? 0) + fp;
    return { positives, found, negatives, falsePositives: falsePositivesN, recall: ratio(found, positives), precision: ratio(found, found + falsePositivesN) };
  };
  let overall: VectorScore | undefined;
  let strict: VectorScore | undefined;
  for (const d of set.detectors) {
    let f = 0;
    let fp = 0;
    let anyFp = 0;
    for (const input of d.positives) {
      if (detect(engine, input, 'example.txt').length > 0) f++;
      else misses.push({ detector: d.detector, input });
    }
    for (const input of d.negatives) {
      const kinds = detect(engine, input, 'example.txt').map((x) => x.kind);
      if (kinds.length > 0) {
        anyFp++;
        falsePositives.push({ detector: d.detector, input, kinds });
      }
      if (kinds.includes(d.provider)) fp++;
    }
    perProvider[d.provider] = add(perProvider[d.provider], d.positives.length, f, d.negatives.length, fp);
    overall = add(overall, d.positives.length, f, d.negatives.length, fp);
    strict = add(strict, d.positives.length, f, d.negatives.length, anyFp);
  }
  const none = add(undefined, 0, 0, 0, 0);
  return { perProvider, overall: overall ?? none, strict: strict ?? none, misses, falsePositives };
}
