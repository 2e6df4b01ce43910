import type { Presentation } from '@pollen/fl-core';
import { mountImage } from './image-widget.ts';
import { mountNextChar } from './next-char-widget.ts';
import { mountTextLabel } from './text-label-widget.ts';
import { fill, type WidgetContext } from './widget-kit.ts';

export { DATA_CLEARED } from './widget-kit.ts';

/**
 * The contributor page's input widget, chosen by the task's presentation kind, never by its id
 * (docs/tasks.md, "How the contributor's page presents a task"). A task without one ('none')
 * says the host site provides its data, and has nothing to try the model on.
 */
export async function mountWidget(ctx: WidgetContext, p: Presentation): Promise<void> {
  document.body.dataset.presentation = p.kind;
  switch (p.kind) {
    case 'image':
      mountImage(ctx, p);
      return;
    case 'next-char':
      await mountNextChar(ctx, p);
      return;
    case 'text-label':
      await mountTextLabel(ctx, p);
      return;
    case 'none':
      fill(ctx.card, 'none-widget');
      return;
  }
}
