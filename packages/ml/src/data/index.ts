export { decodeExampleSet, encodeExampleSet } from '../codec.ts';
export type { DataColumns } from './csv.ts';
export { parseCsvData } from './csv.ts';
export { parseJsonLinesData } from './json-lines.ts';
export type { DataFile } from './read.ts';
export { examplesFromRows, MAX_DATA_ROWS, readDataFile } from './read.ts';
export type { DataFormat, DataRow } from './rows.ts';
export { DATA_FORMATS, DataFileError, dataFormatOf } from './rows.ts';
