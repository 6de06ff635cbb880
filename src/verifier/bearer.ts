/** The verifier's Bearer parser is the one the server's admin API uses too (`src/core/bearer.ts`). */
export { readBearer, type BearerCredentials } from '../core/bearer.js';
