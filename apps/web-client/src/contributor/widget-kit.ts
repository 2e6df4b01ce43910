import type { PollenClient } from '../sdk/index.ts';
import type { TryModel } from './try-model.ts';

/** Dispatched on the document when the visitor deleted their data: lists of entries redraw. */
export const DATA_CLEARED = 'pollen:data-cleared';

/** What every widget gets: the client, the card it fills, and the model to try. */
export interface WidgetContext {
  readonly client: PollenClient;
  /** The card the widget fills (#widget). */
  readonly card: HTMLElement;
  /** Where trying the model shows its answer (#try-output). */
  readonly tryOutput: HTMLElement;
  readonly model: TryModel;
  /** The page's count of local examples changed. */
  readonly onExamples: () => Promise<void>;
}

/** Fill the card with a template of index.html. */
export function fill(card: HTMLElement, templateId: string): void {
  const template = document.getElementById(templateId) as HTMLTemplateElement;
  card.replaceChildren(template.content.cloneNode(true));
}
