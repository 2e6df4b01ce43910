import type { Entry, TaskEntries } from '../sdk/index.ts';
import { DATA_CLEARED } from './widget-kit.ts';

/** The longest excerpt of an entry the list shows. */
const EXCERPT = 140;

/**
 * The visitor's entries for the task, newest first, each with a button that deletes it and the
 * examples made from it.
 */
export class EntriesList {
  constructor(
    private readonly list: HTMLUListElement,
    private readonly empty: HTMLElement,
    private readonly entries: TaskEntries,
    private readonly onChange: () => Promise<void>,
  ) {
    document.addEventListener(DATA_CLEARED, () => void this.draw());
  }

  async draw(): Promise<void> {
    const all = await this.entries.list();
    this.empty.hidden = all.length > 0;
    this.list.replaceChildren(...all.reverse().map((e) => this.item(e)));
    this.list.dataset.count = String(all.length);
  }

  private item(entry: Entry): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.entry = String(entry.id);
    const text = document.createElement('span');
    text.className = 'entry-text';
    text.textContent = entry.text.length > EXCERPT ? `${entry.text.slice(0, EXCERPT)}...` : entry.text;
    li.append(text);
    if (entry.label !== null) {
      const label = document.createElement('span');
      label.className = 'badge';
      label.textContent = entry.label;
      li.append(label);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete "${text.textContent.slice(0, 40)}"`);
    remove.addEventListener('click', async () => {
      await this.entries.delete(entry.id);
      await this.draw();
      await this.onChange();
    });
    li.append(remove);
    return li;
  }
}
