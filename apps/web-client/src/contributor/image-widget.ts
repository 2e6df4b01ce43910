import type { ImagePresentation } from '@pollen/fl-core';
import { topK } from '@pollen/ml/text';
import { SIDE, toMnist } from '../sdk/digit.ts';
import type { DrawPad } from './draw-pad.ts';
import { setUpDrawing } from './drawing.ts';
import { percent } from './format.ts';
import { fill, type WidgetContext } from './widget-kit.ts';

/** Classes shown with their probabilities. */
const SHOWN = 3;

/**
 * An image task: the drawing canvas (drawing.ts). Each stroke tries the global model on the
 * drawing so far, as the 28x28 example saving it would store, and shows its likeliest classes.
 */
export function mountImage(ctx: WidgetContext, p: ImagePresentation): void {
  fill(ctx.card, 'image-widget');
  const out = document.createElement('ol');
  out.id = 'classes';
  out.className = 'plain classes';
  ctx.tryOutput.replaceChildren(out);
  if (p.width !== SIDE || p.height !== SIDE) {
    // The pad makes MNIST-style digits only (sdk/digit.ts).
    ctx.card
      .querySelector('.draw')!
      .replaceChildren(
        `This page draws ${SIDE}x${SIDE} digits; this task takes ${p.width}x${p.height} images from the host site.`,
      );
    return;
  }
  // The digit tried: the drawing as of its last stroke, kept once saved (the pad clears) so each
  // new version is tried on it too, until the visitor clears the pad.
  let digit: Uint8Array | null = null;
  let asked = 0;
  const classify = async (): Promise<void> => {
    const x = digit;
    const mine = ++asked;
    if (!x) {
      out.replaceChildren();
      return;
    }
    const prediction = await ctx.model.predict(x);
    if (mine !== asked || !prediction) return;
    const top = topK(prediction.probs, SHOWN);
    out.replaceChildren(
      ...top.map(({ index, p: probability }) => {
        const li = document.createElement('li');
        li.dataset.class = String(index);
        li.textContent = `${index}: ${percent(probability)}`;
        return li;
      }),
    );
    out.dataset.version = String(prediction.version);
    out.dataset.top = String(top[0]!.index);
  };
  setUpDrawing(ctx.client, ctx.onExamples, (pad: DrawPad) => {
    digit = pad.empty ? null : toMnist(pad.ink());
    void classify();
  });
  ctx.card.querySelector('#clear-pad')!.addEventListener('click', () => {
    digit = null;
    void classify();
  });
  ctx.model.onVersion(() => void classify());
}
