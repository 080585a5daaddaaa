// table.ts - aligned plain-text tables and key/value lists for pcfctl's human output.

export interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

const GAP = '  ';

/** Columns separated by two spaces, padded to the widest cell; no trailing spaces. */
export function table(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return c.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}

/** "name  value" lines with the names padded to the longest. */
export function keyValues(pairs: [string, string][]): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}${GAP}${v}`.trimEnd()).join('\n') + '\n';
}

/** 1234567 -> "1,234,567"; counters are easier to compare grouped. */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n.toLocaleString('en-US');
}
