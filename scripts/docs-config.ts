import { writeFileSync } from 'node:fs';
import { configurationReference } from '../src/config/docs.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationReference());
