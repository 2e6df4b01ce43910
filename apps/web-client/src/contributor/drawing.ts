import { SIDE, toMnist } from '../sdk/digit.ts';
import type { PollenClient } from '../sdk/index.ts';
import { DrawPad } from './draw-pad.ts';

/** Paint a 28x28 example (0..255 ink) onto a canvas, dark on light like the drawing. */
function paint(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(SIDE, SIDE);
  pixels.forEach((v, i) => {
    image.data.set([31, 35, 40, v], i * 4);
  });
  ctx.putImageData(image, 0, 0);
}

/**
 * The "Draw a digit" card: a pad, ten label buttons, save and clear. A saved drawing is
 * downsampled to MNIST's 28x28 and stored with the SDK's `addExamples(..., 'drawn')`.
 */
export function setUpDrawing(
  client: PollenClient,
  onSaved: () => Promise<void>,
  onStroke: (pad: DrawPad) => void = () => {},
): void {
  const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
  const save = $<HTMLButtonElement>('save-digit');
  const note = $('draw-note');
  const labels = $<HTMLFieldSetElement>('labels');
  for (let d = 0; d <= 9; d++) {
    const label = document.createElement('label');
    label.className = 'digit-label';
    label.innerHTML = `<input type="radio" name="digit" id="label-${d}" value="${d}" /><span>${d}</span>`;
    labels.append(label);
  }
  const chosen = (): number | null => {
    const input = labels.querySelector<HTMLInputElement>('input:checked');
    return input ? Number(input.value) : null;
  };
  const sync = (): void => {
    save.disabled = pad.empty || chosen() === null;
  };
  const pad: DrawPad = new DrawPad($<HTMLCanvasElement>('pad'), sync, () => onStroke(pad));
  labels.addEventListener('change', sync);
  $('clear-pad').addEventListener('click', () => pad.clear());
  save.addEventListener('click', async () => {
    const y = chosen();
    const x = toMnist(pad.ink());
    if (y === null || !x) return;
    save.disabled = true;
    try {
      await client.addExamples([{ x, y }], 'drawn');
      paint($<HTMLCanvasElement>('preview'), x);
      note.textContent = `Saved a ${y}. It stays in this browser until you delete your data.`;
      pad.clear();
      for (const input of labels.querySelectorAll<HTMLInputElement>('input')) input.checked = false;
      await onSaved();
    } catch (err) {
      note.textContent = `Could not save: ${(err as Error).message}`;
    }
    sync();
  });
}
