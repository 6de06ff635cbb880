/** Prints rows as an aligned text table. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') || '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/** Prints one record as `key: value` lines. */
export function record(value: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  return Object.entries(value)
    .map(([k, v]) => `${k.padEnd(width)}  ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

/**
 * A page of a listing as text: the table (or `empty`), and when the server says more follow, the
 * command that shows the next page — a text listing never ends silently at its page size.
 */
export function listing(
  page: { readonly items: ReadonlyArray<Record<string, unknown>>; readonly next?: string | number | null },
  columns: readonly string[],
  empty: string,
  nextCommand: string,
): string {
  const text = page.items.length ? table(page.items, columns) : empty;
  return page.next === null || page.next === undefined ? text : `${text}\n\n(more: ${nextCommand} --after ${page.next})`;
}
