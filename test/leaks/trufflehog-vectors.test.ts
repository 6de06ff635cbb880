/**
 * keyturn's scanner on a second third-party labelled set: the inputs of trufflehog's detector
 * pattern tests (https://github.com/trufflesecurity/trufflehog, pkg/detectors/<detector>/*_test.go,
 * AGPL-3.0: only the inputs and their labels are carried, as data; commit and extraction in
 * test/vectors/trufflehog/examples.json and test/vectors/trufflehog/extract.py), for the 97
 * detectors of providers keyturn has rules for. keyturn's rules were not written from them. The
 * floors below are the measured values, so a change that loses recall or precision here fails.
 */
import { describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { compileEngine, detect } from '../../src/leaks/scan/detect.js';
import { loadTrufflehogVectors, scoreTrufflehog } from './support/vectors.js';

const engine = compileEngine(buildEngineConfig());
const set = loadTrufflehogVectors();
const scores = scoreTrufflehog(engine, set);

describe('trufflehog detector test inputs (third-party labelled set)', () => {
  it('names its source and holds positives and negatives for providers keyturn covers', () => {
    expect(set.source.repository).toBe('https://github.com/trufflesecurity/trufflehog');
    expect(set.source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(new Set(set.detectors.map((d) => d.provider)).size).toBeGreaterThanOrEqual(60);
    expect(scores.overall.positives).toBeGreaterThanOrEqual(150);
    expect(scores.overall.negatives).toBeGreaterThanOrEqual(100);
  });

  it('reaches the measured recall (0.76) and precision (0.93 own-provider, 0.83 any finding)', () => {
    expect(scores.overall.recall).toBeGreaterThanOrEqual(0.76);
    expect(scores.overall.precision).toBeGreaterThanOrEqual(0.93);
    expect(scores.strict.precision).toBeGreaterThanOrEqual(0.83);
  });

  it('finds the provider-format tokens trufflehog writes in its tests (prefixes and structure keyturn checks)', () => {
    for (const detector of ['sendgrid', 'stripe', 'anthropic', 'openai', 'pypi', 'rubygems', 'doppler', 'pulumi', 'postman', 'huggingface', 'databrickstoken', 'gitlab/v2', 'shopify', 'aws/access_keys']) {
      const d = set.detectors.find((x) => x.detector === detector);
      expect(d, detector).toBeDefined();
      const found = d!.positives.filter((p) => detect(engine, p, 'example.txt').length > 0).length;
      expect(found, `${detector}: ${found}/${d!.positives.length}`).toBeGreaterThanOrEqual(1);
    }
  });

  it('finds every Azure storage account key assigned to an account-key name, in any language or format', () => {
    const d = set.detectors.find((x) => x.detector === 'azure_storage')!;
    expect(d.positives.length).toBeGreaterThanOrEqual(20);
    for (const p of d.positives) expect(detect(engine, p, 'example.txt').filter((f) => f.kind === 'azure'), p).not.toEqual([]);
    for (const n of d.negatives) expect(detect(engine, n, 'example.txt').filter((f) => f.kind === 'azure'), n).toEqual([]);
  });

  it('finds New Relic license keys (capital FFFFNRAL, regional prefix) and browser keys, and Teams workflow URLs', () => {
    for (const detector of ['newreliclicensekey', 'newrelicbrowserkey', 'microsoftteamswebhook/v2']) {
      const d = set.detectors.find((x) => x.detector === detector)!;
      expect(d, detector).toBeDefined();
      for (const p of d.positives) expect(detect(engine, p, 'example.txt').length, `${detector}: ${p}`).toBeGreaterThan(0);
      for (const n of d.negatives) expect(detect(engine, n, 'example.txt').filter((f) => f.kind === d.provider), `${detector}: ${n}`).toEqual([]);
    }
  });

  it('finds credentials without a prefix beside the identifier or name they pair with, and none of their negatives', () => {
    // Twilio account SID + auth token, Twitch client id + secret (both reported: their shapes are
    // the same), Square sandbox application secret, Okta token + org domain, Mailgun 32-8-8 key,
    // Fastly token in a Go typed constant, Heroku legacy UUID key under a Heroku name.
    const expected: Record<string, number> = { twilio: 1, twitch: 2, squareapp: 1, okta: 1, mailgun: 1, fastlypersonaltoken: 1, 'heroku/v1': 1 };
    for (const [detector, atLeast] of Object.entries(expected)) {
      const d = set.detectors.find((x) => x.detector === detector);
      expect(d, detector).toBeDefined();
      const hits = d!.positives.map((p) => detect(engine, p, 'example.txt').filter((f) => f.kind === d!.provider).length);
      expect(Math.max(...hits), `${detector}: ${hits.join(',')}`).toBeGreaterThanOrEqual(atLeast);
      for (const n of d!.negatives) expect(detect(engine, n, 'example.txt').filter((f) => f.kind === d!.provider), `${detector}: ${n}`).toEqual([]);
    }
  });

  it('reports no finding of the sendgrid, stripe or npm kind in their malformed negatives', () => {
    for (const detector of ['sendgrid', 'stripe', 'npmtokenv2']) {
      const d = set.detectors.find((x) => x.detector === detector)!;
      for (const n of d.negatives) expect(detect(engine, n, 'example.txt').filter((f) => f.kind === d.provider), n).toEqual([]);
    }
  });
});
