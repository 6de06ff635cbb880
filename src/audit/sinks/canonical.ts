/**
 * The canonical record every SIEM format is made from: {@link toCanonical} (`src/audit/canonical.ts`),
 * under the name the sinks use.
 */
export { toCanonical as canonicalOf } from '../canonical.js';
