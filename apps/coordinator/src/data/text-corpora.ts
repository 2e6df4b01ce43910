import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checkSchema, PollenError } from '@pollen/fl-core';
import { type TSchema, Type } from '@sinclair/typebox';
import { TEXT_DATA_DIR } from '../package-dir.ts';

/**
 * The built-in text data sets, as `pnpm --filter @pollen/coordinator text-data` wrote them
 * (make-text-data.ts): gzipped JSON lines, one document or message a line.
 */

const Text = Type.String({ maxLength: 100_000 });

export const BrownRowSchema = Type.Object(
  {
    doc: Type.String({ pattern: '^c[a-r]\\d\\d$' }),
    genre: Type.String({ minLength: 1, maxLength: 40 }),
    text: Text,
  },
  { additionalProperties: false },
);
export interface BrownRow {
  readonly doc: string;
  readonly genre: string;
  readonly text: string;
}

export const SpamRowSchema = Type.Object(
  {
    group: Type.String({ minLength: 1, maxLength: 40 }),
    label: Type.Union([Type.Literal('ham'), Type.Literal('spam')]),
    text: Text,
  },
  { additionalProperties: false },
);
export interface SpamRow {
  readonly group: string;
  readonly label: 'ham' | 'spam';
  readonly text: string;
}

/** Rows of a gzipped JSON lines file, each checked against `schema` (INVALID_DATA names the line). */
export function readJsonLinesGz<T>(file: string, schema: TSchema): T[] {
  let text: string;
  try {
    text = gunzipSync(readFileSync(file)).toString('utf8');
  } catch (err) {
    throw new PollenError('INVALID_DATA', `cannot read ${file}: ${(err as Error).message}`);
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        throw new PollenError('INVALID_DATA', `${file} line ${i + 1} is not JSON`);
      }
      checkSchema(schema, row, 'INVALID_DATA', `line ${i + 1}`);
      return row as T;
    });
}

let brown: BrownRow[] | undefined;
let spam: SpamRow[] | undefined;

/** The Brown corpus' 500 documents (the first 1,200 characters of each), in corpus order. */
export function loadBrown(): readonly BrownRow[] {
  brown ??= readJsonLinesGz<BrownRow>(join(TEXT_DATA_DIR, 'brown.jsonl.gz'), BrownRowSchema);
  return brown;
}

/** 1,500 messages of the SpamAssassin public corpus (subject and body), by group. */
export function loadSpam(): readonly SpamRow[] {
  spam ??= readJsonLinesGz<SpamRow>(join(TEXT_DATA_DIR, 'spam.jsonl.gz'), SpamRowSchema);
  return spam;
}
