import type { TextLabelPresentation } from '@pollen/fl-core';
import { labelFeatures } from '../sdk/index.ts';
import { EntriesList } from './entries-list.ts';
import { percent } from './format.ts';
import { fill, type WidgetContext } from './widget-kit.ts';

/**
 * A text-label task (spam filtering, say): a box to paste a message. The global model says how
 * likely each label is as the message changes; picking a label and saving keeps the message as
 * an entry, one training example (sdk/entries.ts).
 */
export async function mountTextLabel(ctx: WidgetContext, p: TextLabelPresentation): Promise<void> {
  fill(ctx.card, 'text-label-widget');
  const $ = <T extends HTMLElement>(id: string): T => ctx.card.querySelector(`#${id}`) as T;
  const text = $<HTMLTextAreaElement>('entry-text');
  const save = $<HTMLButtonElement>('save-entry');
  const note = $('entry-note');
  const choices = $<HTMLFieldSetElement>('entry-labels');
  p.labels.forEach((name, i) => {
    const label = document.createElement('label');
    label.className = 'check';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'entry-label';
    input.value = String(i);
    label.append(input, ` ${name}`);
    choices.append(label);
  });
  const chosen = (): number | null => {
    const input = choices.querySelector<HTMLInputElement>('input:checked');
    return input ? Number(input.value) : null;
  };
  const entries = await ctx.client.entries();
  const list = new EntriesList($<HTMLUListElement>('entries'), $('entries-empty'), entries, ctx.onExamples);
  await list.draw();
  const out = document.createElement('dl');
  out.id = 'label-probabilities';
  out.className = 'facts';
  ctx.tryOutput.replaceChildren(out);

  let asked = 0;
  const score = async (): Promise<void> => {
    const mine = ++asked;
    if (text.value.trim() === '') {
      out.replaceChildren();
      return;
    }
    const prediction = await ctx.model.predict(labelFeatures(p, text.value));
    if (mine !== asked || !prediction) return;
    out.replaceChildren(
      ...p.labels.flatMap((name, i) => {
        const dt = document.createElement('dt');
        dt.textContent = name;
        const dd = document.createElement('dd');
        dd.dataset.label = name;
        dd.textContent = percent(prediction.probs[i]!);
        return [dt, dd];
      }),
    );
    out.dataset.version = String(prediction.version);
  };
  const sync = (): void => {
    save.disabled = text.value.trim() === '' || chosen() === null;
  };
  text.addEventListener('input', () => {
    sync();
    void score();
  });
  choices.addEventListener('change', sync);
  ctx.model.onVersion(() => void score());
  save.addEventListener('click', async () => {
    const label = chosen();
    if (label === null) return;
    save.disabled = true;
    try {
      await entries.add({ text: text.value, label });
      note.textContent = `Saved as ${p.labels[label]}, kept only in this browser until you delete it.`;
      text.value = '';
      out.replaceChildren();
      for (const input of choices.querySelectorAll<HTMLInputElement>('input')) input.checked = false;
      await list.draw();
      await ctx.onExamples();
    } catch (err) {
      note.textContent = `Could not save: ${(err as Error).message}`;
    }
    sync();
  });
}
