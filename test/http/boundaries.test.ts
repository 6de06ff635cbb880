import { describe, expect, it } from 'vitest';
import { HTTP_EDGE_FORBIDDEN, httpEdgeViolations, importsOf, sources as allSources } from '../arch/rules.js';

/**
 * The HTTP edge holds services only: no route reaches the store, writes an event, opens a
 * transaction or follows a raw change channel, and `src/http` never imports the runtime that
 * composes it (no import cycle). The checker lives in test/arch/rules.ts, where the architecture
 * test also runs it on a planted violation.
 */
describe('the HTTP edge', () => {
  const sources = allSources().filter(({ file }) => file.startsWith('src/http/'));

  it('imports neither the runtime nor the store', () => {
    const offenders = sources.flatMap(({ file, text }) =>
      importsOf(text)
        .filter((spec) => /(^|\/)(runtime|store)\//.test(spec))
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it.each(HTTP_EDGE_FORBIDDEN.map(([what]) => what))('never %s', (what) => {
    expect(httpEdgeViolations(sources).filter((line) => line.endsWith(` ${what}`))).toEqual([]);
  });
});
