import type { Finding, RuleSpec } from './types.js';

/**
 * A finding's secret as output shows it when not revealed: what the engine decided may be shown
 * (see `shownSecret` in `detect.ts`) — a provider's public prefix at most, no character of a
 * password or other low-entropy secret.
 */
export function redact(f: Pick<Finding, 'shown'>): string {
  return f.shown;
}

/** The JSON form of a finding (`match` redacted unless `reveal`). */
export interface FindingJson {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
  readonly rule: string;
  readonly commit?: string;
  readonly atHead?: boolean;
  readonly fingerprint: string;
  readonly match: string;
}

/** Maps a finding to its output form. */
export function toJson(f: Finding, reveal: boolean): FindingJson {
  return {
    file: f.file,
    line: f.line,
    column: f.column,
    kind: f.kind,
    rule: f.rule,
    ...(f.commit === undefined ? {} : { commit: f.commit }),
    ...(f.atHead === undefined ? {} : { atHead: f.atHead }),
    fingerprint: f.fingerprint,
    match: reveal ? f.secret : redact(f),
  };
}

/** JSON output: an array of findings. */
export function formatJson(findings: readonly Finding[], reveal: boolean): string {
  return `${JSON.stringify(findings.map((f) => toJson(f, reveal)), null, 2)}\n`;
}

/** Plain text: one line per finding, then a summary line. */
export function formatText(findings: readonly Finding[], reveal: boolean): string {
  const lines = findings.map((f) => {
    const where = `${f.file}:${f.line}:${f.column}`;
    const history = f.commit ? ` commit ${f.commit.slice(0, 12)}${f.atHead ? ' (still at HEAD)' : ' (history only)'}` : '';
    return `${where}  ${f.kind}  ${f.rule}  ${reveal ? f.secret : redact(f)}${history}`;
  });
  lines.push(findings.length === 0 ? 'no secrets found' : `${findings.length} secret${findings.length === 1 ? '' : 's'} found`);
  return `${lines.join('\n')}\n`;
}

/** SARIF 2.1.0 log with one run; rules are the ones that produced findings. */
export function formatSarif(findings: readonly Finding[], rules: readonly RuleSpec[], reveal: boolean, version: string): string {
  const used = [...new Set(findings.map((f) => f.rule))].sort();
  const byId = new Map(rules.map((r) => [r.id, r]));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'keyturn',
            version,
            informationUri: 'https://github.com/keyturn/keyturn',
            rules: used.map((id) => ({
              id,
              name: id,
              shortDescription: { text: byId.get(id)?.description ?? id },
              properties: { kind: byId.get(id)?.kind ?? 'unknown' },
              defaultConfiguration: { level: 'error' },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: used.indexOf(f.rule),
          level: 'error',
          message: { text: `${f.kind} secret found: ${reveal ? f.secret : redact(f)}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: encodeURI(f.file) },
                region: { startLine: f.line, startColumn: f.column },
              },
            },
          ],
          partialFingerprints: { 'secretFingerprint/v2': f.fingerprint },
          ...(f.commit ? { properties: { commit: f.commit, atHead: f.atHead ?? false } } : {}),
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
