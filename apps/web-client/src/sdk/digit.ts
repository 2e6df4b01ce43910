/**
 * Turn a drawing into an MNIST-style example, the way MNIST's digits were made (LeCun et al.
 * 1998, "Gradient-based learning applied to document recognition", section III-A): the ink's
 * bounding box is scaled, keeping its aspect ratio, to fit a 20x20 box with area averaging
 * (which gives the grey levels of anti-aliasing), then placed in a 28x28 image so that its
 * centre of mass sits at the centre. Pure: arrays in, arrays out.
 */

/** MNIST's image side and the box its digits were scaled into. */
export const SIDE = 28;
const BOX = 20;
/** Ink below this (of 255) counts as background when finding the bounding box. */
const INK_THRESHOLD = 16;

/** A grey-level image, row-major, 0 (no ink) to 255 (full ink). */
export interface InkImage {
  readonly width: number;
  readonly height: number;
  readonly ink: Uint8ClampedArray | Uint8Array;
}

/** The ink of an RGBA image drawn with opaque strokes on a transparent canvas: its alpha channel. */
export function inkFromRgba(rgba: Uint8ClampedArray, width: number, height: number): InkImage {
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`"rgba" expected ${width * height * 4} bytes, got ${rgba.length}`);
  }
  const ink = new Uint8ClampedArray(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[i * 4 + 3]!;
  return { width, height, ink };
}

/** Weights of source cells [0, n) covering target cells [0, m) over the span [from, from + length). */
function coverage(from: number, length: number, m: number): { start: number; weights: number[] }[] {
  const scale = length / m;
  const out: { start: number; weights: number[] }[] = [];
  for (let t = 0; t < m; t++) {
    const a = from + t * scale;
    const b = a + scale;
    const start = Math.floor(a);
    const weights: number[] = [];
    for (let s = start; s < b; s++) weights.push((Math.min(b, s + 1) - Math.max(a, s)) / scale);
    out.push({ start, weights });
  }
  return out;
}

/**
 * The 28x28 MNIST-style example (0..255, row-major) of a drawing, or null when nothing is drawn.
 */
export function toMnist(image: InkImage): Uint8Array | null {
  const { width, height, ink } = image;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! < INK_THRESHOLD) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return null;
  const boxW = maxX - minX + 1;
  const boxH = maxY - minY + 1;
  const scale = BOX / Math.max(boxW, boxH);
  const w = Math.max(1, Math.round(boxW * scale));
  const h = Math.max(1, Math.round(boxH * scale));

  // Area-average the bounding box into w x h, separably: columns, then rows.
  const cols = coverage(minX, boxW, w);
  const rows = coverage(minY, boxH, h);
  const patch = new Float64Array(w * h);
  for (let ty = 0; ty < h; ty++) {
    const row = rows[ty]!;
    for (let tx = 0; tx < w; tx++) {
      const col = cols[tx]!;
      let sum = 0;
      row.weights.forEach((wy, j) => {
        const base = (row.start + j) * width + col.start;
        col.weights.forEach((wx, i) => {
          sum += wy * wx * ink[base + i]!;
        });
      });
      patch[ty * w + tx] = sum;
    }
  }

  // Centre of mass to the image centre, kept inside the frame.
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = patch[y * w + x]!;
      mass += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  }
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const left = clamp(Math.round(SIDE / 2 - cx / mass), SIDE - w);
  const top = clamp(Math.round(SIDE / 2 - cy / mass), SIDE - h);
  const out = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[(top + y) * SIDE + left + x] = Math.round(patch[y * w + x]!);
  }
  return out;
}
