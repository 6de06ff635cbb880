import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_GROUPS, envName, flagName, SETTING_NAMES, SETTINGS } from '../../src/config/schema.js';
import { buildProgram } from '../../src/cli/program.js';

const dir = mkdtempSync(join(tmpdir(), 'keyturn-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/** The flat settings before they were grouped: their flags and variables must keep working. */
const FLAT_BEFORE = [
  'dataDir', 'db', 'host', 'port', 'keyPrefix', 'issuer', 'masterKey', 'signingAlgs', 'signingKeyRotation', 'clientSecretPrefix',
  'refreshTokenPrefix', 'accessTokenPrefix', 'logLevel', 'logRequests', 'bodyLimit', 'cacheMaxEntries', 'cacheMaxAge', 'sqliteSynchronous',
  'trustProxy', 'leakResponse', 'leakWebhookUrl', 'leakWebhookTimeout', 'leakReportRate', 'githubKeysUrl', 'watchTick',
];

describe('configuration grouped per capability', () => {
  it('has one flat name (one flag, one environment variable) per leaf, and every old name still there', () => {
    const leaves = Object.entries(CONFIG_GROUPS).flatMap(([group, schema]) => Object.keys(schema.shape).map((leaf) => `${group}.${leaf}`));
    expect(Object.values(SETTINGS).sort()).toEqual(leaves.sort());
    // Every name from before grouping still works; settings added since have names of their own.
    expect(SETTING_NAMES).toEqual(expect.arrayContaining([...FLAT_BEFORE]));
    expect(new Set(SETTING_NAMES).size).toBe(SETTING_NAMES.length);
    expect(envName('signingKeyRotation')).toBe('KEYTURN_SIGNING_KEY_ROTATION');
    expect(flagName('leakWebhookTimeout')).toBe('--leak-webhook-timeout');
  });

  it('offers every flag on keyturn serve', async () => {
    const serve = (await buildProgram({ out: () => undefined, err: () => undefined, env: {}, stdin: async () => '' })).commands.find((c) => c.name() === 'serve')!;
    const flags = serve.options.map((o) => o.long);
    for (const name of FLAT_BEFORE) expect(flags).toContain(flagName(name));
  });

  it('reads every environment variable and flag into its group', () => {
    const env = Object.fromEntries([
      ['KEYTURN_PORT', '9091'],
      ['KEYTURN_LEAK_RESPONSE', 'revoke'],
      ['KEYTURN_TRUST_PROXY', '10.0.0.0/8, loopback'],
      ['KEYTURN_SIGNING_ALGS', 'EdDSA'],
      ['KEYTURN_LOG_LEVEL', 'warn'],
    ]);
    const config = loadConfig({ env, flags: { keyPrefix: 'kt_test', port: 9092 } });
    expect(config.server.port).toBe(9092);
    expect(config.leaks.response).toBe('revoke');
    expect(config.http.trustProxy).toEqual(['10.0.0.0/8', 'loopback']);
    expect(config.signing.algs).toEqual(['EdDSA']);
    expect(config.logging.level).toBe('warn');
    expect(config.keys.prefix).toBe('kt_test');
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('turns durations into milliseconds inside the schema: a duration or milliseconds, defaults included', () => {
    const defaults = loadConfig({});
    expect(defaults.signing.rotation).toBe(30 * 86_400_000);
    expect(defaults.keys.cacheMaxAge).toBe(300_000);
    expect(defaults.leaks.webhookTimeout).toBe(5_000);
    expect(defaults.leaks.watchTick).toBe(60_000);
    const config = loadConfig({
      env: { KEYTURN_CACHE_MAX_AGE: '120000', KEYTURN_SIGNING_KEY_ROTATION: '1h30m' },
      flags: { leakWebhookTimeout: '2s', watchTick: 0 },
    });
    expect(config.keys.cacheMaxAge).toBe(120_000);
    expect(config.signing.rotation).toBe(5_400_000);
    expect(config.leaks.webhookTimeout).toBe(2_000);
    expect(config.leaks.watchTick).toBe(0);
  });

  it('rotation.share: a fifth by default, a fraction from the environment or a flag', () => {
    expect(loadConfig({}).rotation.share).toBe(0.2);
    expect(loadConfig({ env: { KEYTURN_ROTATION_SHARE: '0.5' } }).rotation.share).toBe(0.5);
    expect(loadConfig({ flags: { rotationShare: '1' } }).rotation.share).toBe(1);
  });

  it.each([
    [{ signingKeyRotation: 'forever' }, /^configuration: signingKeyRotation \(signing\.rotation\): expected a duration/],
    [{ leakWebhookTimeout: '10m' }, /^configuration: leakWebhookTimeout \(leaks\.webhookTimeout\): expected a duration from 100ms to 1m/],
    [{ port: 'abc' }, /^configuration: port \(server\.port\): /],
    [{ rotationShare: '0' }, /^configuration: rotationShare \(rotation\.share\): /],
    [{ rotationShare: '1.5' }, /^configuration: rotationShare \(rotation\.share\): /],
  ])('refuses %j naming the flag and the grouped place', (flags, message) => {
    expect(() => loadConfig({ flags })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(message) }));
  });

  it('takes a grouped JSON file, with environment and flags over it', () => {
    const path = file({ server: { port: 7000, host: '0.0.0.0' }, signing: { rotation: '7d' }, leaks: { reportRate: 5 } });
    const config = loadConfig({ file: path, env: { KEYTURN_HOST: '127.0.0.2' }, flags: { leakReportRate: '6' } });
    expect(config.server).toMatchObject({ port: 7000, host: '127.0.0.2' });
    expect(config.signing.rotation).toBe(7 * 86_400_000);
    expect(config.leaks.reportRate).toBe(6);
    expect(loadConfig({ env: { KEYTURN_CONFIG: path } }).server.port).toBe(7000);
  });

  it('refuses a flat file from before the grouping, naming the new place of each key', () => {
    const path = file({ port: 7000, leakResponse: 'revoke' });
    expect(() => loadConfig({ file: path })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/"port" is now "server\.port", "leakResponse" is now "leaks\.response"/) }),
    );
  });

  it('refuses unknown keys in a group and unknown groups', () => {
    expect(() => loadConfig({ file: file({ server: { prot: 1 } }) })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/server/) }));
    expect(() => loadConfig({ file: file({ sever: {} }) })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });
});
