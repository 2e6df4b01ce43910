import type { NextCharPresentation } from '@pollen/fl-core';
import { type Ranked, topK } from './top-k.ts';

/** How text becomes character ids: a next-char presentation's alphabet and context. */
export type CharCoding = Pick<NextCharPresentation, 'alphabet' | 'context' | 'lowercase'>;

/** The id of any character outside the alphabet, and of the padding before the text starts. */
export const UNKNOWN_ID = 0;

/** Stands for id 0 in decoded text. */
export const UNKNOWN_CHAR = '\uFFFD';

const idMaps = new WeakMap<CharCoding, Map<string, number>>();

function idsOf(coding: CharCoding): Map<string, number> {
  let ids = idMaps.get(coding);
  if (!ids) {
    ids = new Map([...coding.alphabet].map((c, i) => [c, i + 1]));
    idMaps.set(coding, ids);
  }
  return ids;
}

/** Text as the model sees it: lower-cased unless the coding keeps case, runs of white space as one space. */
export function normalizeText(text: string, lowercase = true): string {
  const spaced = text.replace(/\s+/g, ' ');
  return lowercase ? spaced.toLowerCase() : spaced;
}

/** Character ids of a text (after {@link normalizeText}): 1.. for the alphabet, 0 for any other character. */
export function encodeText(text: string, coding: CharCoding): Int32Array {
  const ids = idsOf(coding);
  const chars = [...normalizeText(text, coding.lowercase ?? true)];
  return Int32Array.from(chars, (c) => ids.get(c) ?? UNKNOWN_ID);
}

/** Text of character ids; 0 and ids outside the alphabet read as U+FFFD. */
export function decodeText(ids: ArrayLike<number>, coding: Pick<CharCoding, 'alphabet'>): string {
  const chars = [...coding.alphabet];
  let out = '';
  for (let i = 0; i < ids.length; i++) out += chars[ids[i]! - 1] ?? UNKNOWN_CHAR;
  return out;
}

/** The last `context` ids of a text, padded on the left with 0: the model's input to predict what follows. */
export function contextIds(text: string, coding: CharCoding): Int32Array {
  const ids = encodeText(text, coding);
  const out = new Int32Array(coding.context);
  const take = ids.subarray(Math.max(0, ids.length - coding.context));
  out.set(take, coding.context - take.length);
  return out;
}

/** Next-character examples: `x` count * context ids, `y` one next id per example. */
export interface NextCharExamples {
  readonly count: number;
  readonly x: Int32Array;
  readonly y: Int32Array;
}

/**
 * One example per character of the text: the `context` characters before it (padded on the
 * left with 0 at the start) and its id. Characters outside the alphabet are not predicted (a
 * model cannot suggest them) but still count as context. `stride` keeps every stride-th
 * position, for a smaller sample of a long text.
 */
export function nextCharExamples(text: string, coding: CharCoding, stride = 1): NextCharExamples {
  if (!Number.isInteger(stride) || stride < 1)
    throw new RangeError(`"stride" expected a positive integer, got ${stride}`);
  const ids = encodeText(text, coding);
  const n = coding.context;
  const positions: number[] = [];
  for (let t = 0; t < ids.length; t += stride) if (ids[t] !== UNKNOWN_ID) positions.push(t);
  const x = new Int32Array(positions.length * n);
  const y = new Int32Array(positions.length);
  positions.forEach((t, i) => {
    const from = Math.max(0, t - n);
    x.set(ids.subarray(from, t), i * n + n - (t - from));
    y[i] = ids[t]!;
  });
  return { count: positions.length, x, y };
}

/** A suggested next character and its probability. */
export interface CharSuggestion {
  readonly char: string;
  readonly p: number;
}

/** The k most probable next characters of a model's output over the ids (id 0 is never suggested). */
export function topChars(
  probs: ArrayLike<number>,
  coding: Pick<CharCoding, 'alphabet'>,
  k: number,
): CharSuggestion[] {
  const chars = [...coding.alphabet];
  return topK(probs, k, (i) => i === UNKNOWN_ID || i > chars.length).map((r: Ranked) => ({
    char: chars[r.index - 1]!,
    p: r.p,
  }));
}
