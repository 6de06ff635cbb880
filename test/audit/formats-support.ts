/**
 * Test-only readers of the SIEM formats (the product never parses them) and a generator of
 * canonical events with hostile strings, for round-trip property tests.
 */
import fc from 'fast-check';
import { EVENT_CATEGORIES, SEVERITIES, type CanonicalEvent } from '../../src/audit/formats/record.js';

/** A parsed CEF line: the 7 header fields (the first is `CEF:0`) and the extension pairs. */
export interface ParsedCef {
  readonly header: string[];
  readonly extensions: [string, string][];
}

/** Reads a CEF line strictly: any escape the spec does not define is an error. */
export function parseCef(line: string): ParsedCef {
  if (!line.startsWith('CEF:')) throw new Error('not CEF');
  const header: string[] = [];
  let current = '';
  let i = 0;
  while (header.length < 7) {
    if (i >= line.length) throw new Error('short header');
    const c = line[i] as string;
    if (c === '\\') {
      const next = line[i + 1];
      if (next !== '\\' && next !== '|') throw new Error(`bad header escape at ${i}`);
      current += next;
      i += 2;
    } else if (c === '|') {
      header.push(current);
      current = '';
      i += 1;
    } else {
      if (c === '\n' || c === '\r') throw new Error('newline in header');
      current += c;
      i += 1;
    }
  }
  const ext = line.slice(i);
  const equals: number[] = [];
  for (let j = 0; j < ext.length; j++) {
    if (ext[j] === '\\') j += 1;
    else if (ext[j] === '=') equals.push(j);
    else if (ext[j] === '\n' || ext[j] === '\r') throw new Error('raw newline in extension');
  }
  const keyStarts = equals.map((eq, k) => (k === 0 ? 0 : ext.lastIndexOf(' ', eq) + 1));
  const extensions: [string, string][] = equals.map((eq, k) => {
    const key = ext.slice(keyStarts[k], eq);
    if (!/^[A-Za-z0-9]+$/.test(key)) throw new Error(`bad key ${JSON.stringify(key)}`);
    const end = k + 1 < equals.length ? (keyStarts[k + 1] as number) - 1 : ext.length;
    return [key, unescapeCefValue(ext.slice(eq + 1, end))];
  });
  return { header, extensions };
}

function unescapeCefValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === '\\' || next === '=') out += next;
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else throw new Error(`bad extension escape \\${next ?? ''}`);
  }
  return out;
}

/** A parsed RFC 5424 message. */
export interface ParsedSyslog {
  readonly pri: number;
  readonly version: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly structuredData: { id: string; params: [string, string][] }[];
  readonly message: string | undefined;
  readonly bom: boolean;
}

/** Reads an RFC 5424 message by its ABNF (§6), unescaping PARAM-VALUEs (§6.3.3). */
export function parseSyslog(text: string): ParsedSyslog {
  const head = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) /.exec(text);
  if (head === null) throw new Error('bad header');
  let i = head[0].length;
  const structuredData: { id: string; params: [string, string][] }[] = [];
  if (text[i] === '-') {
    i += 1;
  } else {
    while (text[i] === '[') {
      const idMatch = /^\[([^= \]"]{1,32})/.exec(text.slice(i));
      if (idMatch === null) throw new Error('bad SD-ID');
      i += idMatch[0].length;
      const params: [string, string][] = [];
      while (text[i] === ' ') {
        const nameMatch = /^ ([^= \]"]{1,32})="/.exec(text.slice(i));
        if (nameMatch === null) throw new Error('bad PARAM-NAME');
        i += nameMatch[0].length;
        let value = '';
        for (;;) {
          const c = text[i];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '"') break;
          if (c === ']') throw new Error('unescaped ] in PARAM-VALUE');
          if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === ']')) {
            value += text[i + 1];
            i += 2;
          } else {
            value += c;
            i += 1;
          }
        }
        i += 1;
        params.push([nameMatch[1] as string, value]);
      }
      if (text[i] !== ']') throw new Error('SD-ELEMENT not closed');
      i += 1;
      structuredData.push({ id: idMatch[1] as string, params });
    }
    if (structuredData.length === 0) throw new Error('no STRUCTURED-DATA');
  }
  let message: string | undefined;
  let bom = false;
  if (i < text.length) {
    if (text[i] !== ' ') throw new Error('junk after STRUCTURED-DATA');
    message = text.slice(i + 1);
    if (message.startsWith('\uFEFF')) {
      bom = true;
      message = message.slice(1);
    }
  }
  return {
    pri: Number(head[1]),
    version: Number(head[2]),
    timestamp: head[3] as string,
    hostname: head[4] as string,
    appName: head[5] as string,
    procId: head[6] as string,
    msgId: head[7] as string,
    structuredData,
    message,
    bom,
  };
}

/** Strings made of the characters every format must escape, mixed with ordinary and non-ASCII ones. */
export const hostileString = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\\', '|', '=', '"', ']', '[', '\n', '\r', ' ', '\t', '\u0000', '\uFEFF', '—', 'é', '😀', '\u2028'),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 24,
});

const eventType = fc
  .tuple(fc.constantFrom('key', 'client', 'token', 'principal', 'detection', 'leak_watch'), fc.constantFrom('created', 'revoked', 'verify_failed', 'issued', 'disabled', 'refresh_reuse', 'ran'))
  .map(([noun, verb]) => `${noun}.${verb}`);

/** Canonical events with hostile strings in every free-text field. */
export const arbEvent: fc.Arbitrary<CanonicalEvent> = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  id: fc.oneof(fc.uuid(), hostileString),
  time: fc.date({ min: new Date('2000-01-01T00:00:00.000Z'), max: new Date('2099-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  type: eventType,
  severity: fc.constantFrom(...SEVERITIES),
  category: fc.constantFrom(...EVENT_CATEGORIES),
  actor: fc.option(hostileString, { nil: null }),
  target: fc.option(hostileString, { nil: null }),
  outcome: fc.constantFrom('success' as const, 'failure' as const),
  reason: fc.option(hostileString, { nil: null }),
  sourceIp: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: null }),
  requestId: fc.option(hostileString, { nil: null }),
  data: fc.dictionary(hostileString, fc.oneof(hostileString, fc.integer(), fc.boolean()), { maxKeys: 3 }),
});

/** A fixed, realistic event for examples. */
export const sampleEvent: CanonicalEvent = {
  seq: 7,
  id: 'evt_01JF3Z8Q2W',
  time: '2026-12-04T16:05:08.123Z',
  type: 'key.revoked',
  severity: 'medium',
  category: 'entity_management',
  actor: 'prn_admin',
  target: 'key_4Hq',
  outcome: 'success',
  reason: 'compromised',
  sourceIp: '203.0.113.9',
  requestId: 'req-42',
  data: { note: 'rotated after "leak" [ticket 9]' },
};
