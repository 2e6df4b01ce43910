import { describe, expect, it } from 'vitest';
import { inkFromRgba, SIDE, toMnist } from './digit.ts';

/** A width x height image with full ink inside [x0, x1) x [y0, y1). */
function rectangle(width: number, height: number, x0: number, y0: number, x1: number, y1: number) {
  const ink = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) ink[y * width + x] = 255;
  return { width, height, ink };
}

/** Rows and columns of a 28x28 example holding any ink, and its centre of mass. */
function shape(img: Uint8Array): { rows: number; cols: number; cx: number; cy: number } {
  const rows = new Set<number>();
  const cols = new Set<number>();
  let mass = 0;
  let cx = 0;
  let cy = 0;
  img.forEach((v, i) => {
    if (v === 0) return;
    const x = i % SIDE;
    const y = Math.floor(i / SIDE);
    rows.add(y);
    cols.add(x);
    mass += v;
    cx += v * (x + 0.5);
    cy += v * (y + 0.5);
  });
  return { rows: rows.size, cols: cols.size, cx: cx / mass, cy: cy / mass };
}

describe('a drawing as an MNIST example', () => {
  it('is null when nothing is drawn', () => {
    expect(toMnist({ width: 280, height: 280, ink: new Uint8Array(280 * 280) })).toBeNull();
  });

  it('scales the ink box to 20 pixels on its long side, keeps the aspect ratio, centres the mass', () => {
    // A tall bar in a corner of a 280x280 canvas: 40 wide, 200 high.
    const out = toMnist(rectangle(280, 280, 10, 30, 50, 230))!;
    expect(out).toHaveLength(784);
    const s = shape(out);
    expect(s.rows).toBe(20);
    expect(s.cols).toBe(4);
    expect(s.cx).toBeCloseTo(14, 0);
    expect(s.cy).toBeCloseTo(14, 0);
    expect(Math.max(...out)).toBe(255);
  });

  it('averages area, so a thin stroke becomes grey rather than vanishing or turning solid', () => {
    // An L: a stroke 5 wide and 200 high with a foot 100 wide; the box is 100x200, scaled by 1/10.
    const l = rectangle(280, 280, 100, 40, 105, 240);
    for (let y = 235; y < 240; y++) for (let x = 105; x < 200; x++) l.ink[y * 280 + x] = 255;
    const out = toMnist(l)!;
    const values = [...out].filter((v) => v > 0);
    expect(values.length).toBeGreaterThanOrEqual(20);
    expect(Math.max(...values)).toBeLessThan(255);
    expect(Math.max(...values)).toBeGreaterThan(100);
    // Area averaging conserves ink up to the scale: (5 * 200 + 95 * 5) full pixels times (1/10)^2.
    const total = values.reduce((a, b) => a + b, 0);
    expect(Math.abs(total - (5 * 200 + 95 * 5) * 255 * 0.01)).toBeLessThan(20);
  });

  it('reads the alpha channel of an RGBA canvas as ink, and checks its size', () => {
    const rgba = new Uint8ClampedArray(2 * 1 * 4);
    rgba[3] = 200;
    expect([...inkFromRgba(rgba, 2, 1).ink]).toEqual([200, 0]);
    expect(() => inkFromRgba(rgba, 3, 1)).toThrow(/"rgba" expected 12 bytes, got 8/);
  });
});
