import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { rmSync } from 'node:fs';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngineConfig } from '../../src/leaks/scan/config.js';
import { fingerprintOf } from '../../src/leaks/scan/detect.js';
import { parseTarget, runScan } from '../../src/leaks/scan/scanner.js';
import { Fake } from './support/corpus.js';
import { tempDir } from './support/fixtures.js';

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const fake = new Fake(31);

describe('S3-compatible bucket (local s3rver)', () => {
  let dir: string;
  let stateDir: string;
  let server: S3rver;
  let endpoint: string;
  let s3: S3Client;
  const keyturn = fake.keyturn('kt_live');
  const github = fake.githubClassic();

  beforeAll(async () => {
    dir = tempDir('keyturn-s3-');
    stateDir = tempDir('keyturn-state-');
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
    const address = (await server.run()) as { port: number };
    endpoint = `http://127.0.0.1:${address.port}`;
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
    await s3.send(new CreateBucketCommand({ Bucket: 'leaky-bucket' }));
    const put = (Key: string, Body: string | Uint8Array) => s3.send(new PutObjectCommand({ Bucket: 'leaky-bucket', Key, Body }));
    await put('backups/app.env', `KEYTURN_KEY=${keyturn}\nDEBUG=1\n`);
    await put('backups/nested/ci.yaml', `env:\n  GH_TOKEN: ${github}\n`);
    await put('backups/logo.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, ...Buffer.from(keyturn)]));
    await put('other/ignored.env', `KEYTURN_KEY=${fake.keyturn('kt_live')}\n`);
  });
  afterAll(async () => {
    s3.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('scans the objects under a prefix, skipping binaries', async () => {
    const config = buildEngineConfig();
    const report = await runScan(parseTarget('s3://leaky-bucket/backups/'), { config, threads: 0, s3: { endpoint, credentials } });
    expect(report.findings.map((f) => [f.file, f.kind, f.fingerprint])).toEqual([
      ['s3://leaky-bucket/backups/app.env', 'keyturn', fingerprintOf(keyturn, config.fingerprintKey)],
      ['s3://leaky-bucket/backups/nested/ci.yaml', 'github', fingerprintOf(github, config.fingerprintKey)],
    ]);
    expect(report.skipped).toBe(1);
  });

  it('scans incrementally by ETag', async () => {
    const opts = { config: buildEngineConfig(), threads: 0, s3: { endpoint, credentials }, stateDir };
    expect((await runScan(parseTarget('s3://leaky-bucket/backups'), opts)).findings).toHaveLength(2);
    const again = await runScan(parseTarget('s3://leaky-bucket/backups'), opts);
    expect(again.findings).toEqual([]);
    expect(again.items).toBe(0);
    const fresh = fake.stripe();
    await s3.send(new PutObjectCommand({ Bucket: 'leaky-bucket', Key: 'backups/app.env', Body: `STRIPE=${fresh}\n` }));
    const third = await runScan(parseTarget('s3://leaky-bucket/backups'), opts);
    expect(third.findings.map((f) => f.kind)).toEqual(['stripe']);
  });

  it('reports an unreachable bucket as ERR_UPSTREAM', async () => {
    await expect(
      runScan(parseTarget('s3://no-such-bucket/x'), { config: buildEngineConfig(), threads: 0, s3: { endpoint, credentials } }),
    ).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });
});
