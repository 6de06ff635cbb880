import { afterAll } from 'vitest';

/**
 * Fails a test file whose code ran two queries at once on one pg client: pg 8 only warns
 * (`Calling client.query() when the client is already executing a query`), pg 9 throws.
 * The warning is emitted once per process, so every test file's fork watches for it.
 */
const overlapping: string[] = [];
process.on('warning', (warning) => {
  if (warning.name === 'DeprecationWarning' && /client is already executing a query/.test(warning.message)) {
    overlapping.push(warning.stack ?? warning.message);
  }
});

afterAll(() => {
  if (overlapping.length > 0) throw new Error(`a pg client ran overlapping queries:\n${overlapping.join('\n')}`);
});
