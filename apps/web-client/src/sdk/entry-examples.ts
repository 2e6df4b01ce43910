import type { NextCharPresentation, Presentation, TextLabelPresentation } from '@pollen/fl-core';
import { contextIds, messageFeatures, nextCharExamples } from '@pollen/ml/text';
import type { ExampleInput } from './examples.ts';
import type { StoredEntry } from './storage.ts';

/**
 * What an entry teaches, by the task's presentation (docs/tasks.md, "How the contributor's page
 * presents a task"), through @pollen/ml's text coding, the same on the device and the
 * coordinator: every character of typed text is the next character after the context before
 * it; a labelled message is its hashed bag of words with its label.
 */
export function entryExamples(p: Presentation, entry: Pick<StoredEntry, 'text' | 'label'>): ExampleInput[] {
  if (p.kind === 'next-char') {
    const { count, x, y } = nextCharExamples(entry.text, p);
    return Array.from({ length: count }, (_, i) => ({
      x: x.subarray(i * p.context, (i + 1) * p.context),
      y: y[i]!,
    }));
  }
  if (p.kind === 'text-label' && entry.label !== null) {
    return [{ x: messageFeatures(entry.text, p.features), y: entry.label }];
  }
  return [];
}

/** The context after the whole text: what trying the model on it predicts from. */
export function nextCharContext(p: NextCharPresentation, text: string): Int32Array {
  return contextIds(text, p);
}

/** A pasted message's features, as the task's examples have them. */
export function labelFeatures(p: TextLabelPresentation, text: string): Float32Array {
  return messageFeatures(text, p.features);
}
