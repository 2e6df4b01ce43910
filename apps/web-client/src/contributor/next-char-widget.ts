import type { NextCharPresentation } from '@pollen/fl-core';
import { topChars } from '@pollen/ml/text';
import { nextCharContext } from '../sdk/index.ts';
import { EntriesList } from './entries-list.ts';
import { percent } from './format.ts';
import { fill, type WidgetContext } from './widget-kit.ts';

/** Suggestions shown as the visitor types. */
const SUGGESTIONS = 3;

/** A character as a suggestion button shows it. */
function shown(c: string): string {
  if (c === ' ') return 'space';
  if (c === '\n') return 'new line';
  return c;
}

/**
 * A next-character task: a text box. As the visitor types, the global model suggests the next
 * character (clicking one types it); saving the text keeps it as an entry, each of its
 * characters a training example (sdk/entries.ts).
 */
export async function mountNextChar(ctx: WidgetContext, p: NextCharPresentation): Promise<void> {
  fill(ctx.card, 'next-char-widget');
  const $ = <T extends HTMLElement>(id: string): T => ctx.card.querySelector(`#${id}`) as T;
  const text = $<HTMLTextAreaElement>('entry-text');
  const save = $<HTMLButtonElement>('save-entry');
  const note = $('entry-note');
  const entries = await ctx.client.entries();
  const list = new EntriesList($<HTMLUListElement>('entries'), $('entries-empty'), entries, ctx.onExamples);
  await list.draw();
  const suggestions = document.createElement('div');
  suggestions.id = 'suggestions';
  suggestions.className = 'row suggestions';
  suggestions.setAttribute('role', 'group');
  suggestions.setAttribute('aria-label', 'Next-character suggestions');
  ctx.tryOutput.replaceChildren(suggestions);

  let asked = 0;
  const suggest = async (): Promise<void> => {
    const mine = ++asked;
    const prediction = await ctx.model.predict(nextCharContext(p, text.value));
    // A newer keystroke asked again meanwhile: its answer is the one to show.
    if (mine !== asked || !prediction) return;
    // Id 0 is "any other character": never suggested.
    const top = topChars(prediction.probs, p, SUGGESTIONS);
    suggestions.replaceChildren(
      ...top.map(({ char, p: probability }) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary suggestion';
        button.dataset.char = char;
        button.textContent = `${shown(char)} ${percent(probability)}`;
        button.addEventListener('click', () => {
          text.value += char;
          text.dispatchEvent(new Event('input'));
          text.focus();
        });
        return button;
      }),
    );
    suggestions.dataset.version = String(prediction.version);
    suggestions.dataset.suggestions = top.map((t) => t.char).join('');
  };
  text.addEventListener('input', () => {
    save.disabled = text.value.trim() === '';
    void suggest();
  });
  ctx.model.onVersion(() => void suggest());
  save.addEventListener('click', async () => {
    save.disabled = true;
    try {
      const added = await entries.add({ text: text.value });
      note.textContent = `Saved: ${added.accepted} examples, kept only in this browser until you delete them.`;
      text.value = '';
      await list.draw();
      await ctx.onExamples();
    } catch (err) {
      note.textContent = `Could not save: ${(err as Error).message}`;
      save.disabled = false;
    }
  });
}
