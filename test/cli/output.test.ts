import { describe, expect, it } from 'vitest';
import { runBin } from '../support/spawn.js';

describe('clean output on Node 20 (built bin)', () => {
  it('an S3 scan that cannot reach its endpoint prints one line, with no AWS SDK Node version warning in front', async () => {
    const run = await runBin(['scan', 's3://bucket/prefix', '--s3-endpoint', 'http://127.0.0.1:1'], {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(/^keyturn scan: ERR_UPSTREAM: S3 scan of bucket failed/);
  });
});
