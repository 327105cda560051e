import { DATASET_ERRORS, DatasetError } from './errors';

/** A parsed CSV file: the header, the data records, and the 1-based line each record starts on. */
export interface CsvTable {
  path: string;
  header: string[];
  rows: string[][];
  /** lines[i] = the file line where data row i starts (the header is line 1 unless it holds a newline). */
  lines: number[];
}

/**
 * RFC 4180 CSV: quoted fields (with "" escapes, commas and newlines inside), CRLF or LF, a UTF-8 BOM.
 * Every record must have as many fields as the header; a trailing empty line is ignored. Errors name
 * the file and line.
 */
export function parseCsv(path: string, text: string): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: string[][] = [];
  const lines: number[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const rec: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n)
            throw new DatasetError(
              `${path} line ${startLine}: a quoted field is never closed`,
              DATASET_ERRORS.invalidInput,
            );
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        // after the closing quote: a separator, end of record or end of file
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new DatasetError(`${path} line ${line}: text after a closing quote`, DATASET_ERRORS.invalidInput);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
        field = text.slice(start, i);
      }
      rec.push(field);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      // end of record
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    // a blank line (one empty field) carries no record
    if (rec.length === 1 && rec[0] === '') continue;
    records.push(rec);
    lines.push(startLine);
  }
  const header = records.shift();
  lines.shift();
  if (!header) throw new DatasetError(`${path}: the file is empty (no header line)`, DATASET_ERRORS.invalidInput);
  const names = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of names) {
    if (h === '')
      throw new DatasetError(`${path} line 1: an empty column name in the header`, DATASET_ERRORS.invalidInput);
    if (seen.has(h))
      throw new DatasetError(`${path} line 1: column "${h}" appears twice in the header`, DATASET_ERRORS.invalidInput);
    seen.add(h);
  }
  records.forEach((r, k) => {
    if (r.length !== names.length) {
      throw new DatasetError(
        `${path} line ${lines[k]} (row ${k + 1}): ${r.length} fields, the header has ${names.length}`,
        DATASET_ERRORS.invalidInput,
      );
    }
  });
  return { path, header: names, rows: records, lines };
}
