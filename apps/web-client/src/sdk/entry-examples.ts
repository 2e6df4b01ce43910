import type { NextCharPresentation, Presentation, TextLabelPresentation } from '@pollen/fl-core';
import type { ExampleInput } from './examples.ts';
import type { StoredEntry } from './storage.ts';

/**
 * What an entry teaches, by the task's presentation (docs/tasks.md, "How the contributor's page
 * presents a task"): every character of typed text is the next character after the context
 * before it; a labelled message is its features with its label.
 */
export function entryExamples(p: Presentation, entry: Pick<StoredEntry, 'text' | 'label'>): ExampleInput[] {
  if (p.kind === 'next-char') return nextCharExamples(p, entry.text);
  if (p.kind === 'text-label' && entry.label !== null) {
    return [{ x: messageFeatures(p, entry.text), y: entry.label }];
  }
  return [];
}

/** Character ids of a text by the presentation's alphabet: 1.. for its characters, 0 for any other. */
export function charIds(p: NextCharPresentation, text: string): Int32Array {
  const alphabet = [...p.alphabet];
  const ids = new Map(alphabet.map((c, i) => [c, i + 1]));
  const chars = [...(p.lowercase === false ? text : text.toLowerCase())];
  return Int32Array.from(chars, (c) => ids.get(c) ?? 0);
}

/** The context a prediction after `ids[0..end)` sees: the last `context` ids, 0-padded on the left. */
export function contextBefore(p: NextCharPresentation, ids: Int32Array, end: number): Int32Array {
  const out = new Int32Array(p.context);
  const start = Math.max(0, end - p.context);
  out.set(ids.subarray(start, end), p.context - (end - start));
  return out;
}

/** One example per character of the text: the context before it, and its id. */
export function nextCharExamples(p: NextCharPresentation, text: string): ExampleInput[] {
  const ids = charIds(p, text);
  return Array.from(ids, (y, i) => ({ x: contextBefore(p, ids, i), y }));
}

/** The context after the whole text: what trying the model on it predicts from. */
export function nextCharContext(p: NextCharPresentation, text: string): Int32Array {
  const ids = charIds(p, text);
  return contextBefore(p, ids, ids.length);
}

/** 32-bit FNV-1a of a string's UTF-16 code units (Fowler, Noll and Vo). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A message's hashed bag of words: lower-cased word tokens counted in FNV-1a(token) mod dims. */
export function messageFeatures(p: TextLabelPresentation, text: string): Float32Array {
  const { dims, weighting = 'log1p' } = p.features;
  const tokens = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const counts = new Float32Array(dims);
  for (const t of tokens) counts[fnv1a(t) % dims]! += 1;
  for (let i = 0; i < dims; i++) {
    counts[i] = weighting === 'tf' ? counts[i]! / Math.max(1, tokens.length) : Math.log1p(counts[i]!);
  }
  return counts;
}
