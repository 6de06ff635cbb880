import { writeFileSync } from 'node:fs';
import { eventsReference } from '../src/audit/docs.js';

writeFileSync(new URL('../docs/events.md', import.meta.url), eventsReference());
