import { type InkImage, inkFromRgba } from '../sdk/digit.ts';

/**
 * A canvas to draw a digit on with a mouse, a pen or a finger (pointer events). Strokes are
 * opaque on a transparent canvas, so the alpha channel is the ink. The drawing resolution is
 * fixed; CSS may scale the element to fit a phone.
 */
export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private inked = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onChange: (empty: boolean) => void = () => {},
    /** A stroke ended (to try the model on the drawing so far). */
    private readonly onStroke: () => void = () => {},
  ) {
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    // About MNIST's stroke once the digit is scaled into its 20-pixel box.
    ctx.lineWidth = canvas.width / 14;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#1f2328';
    ctx.fillStyle = '#1f2328';
    canvas.style.touchAction = 'none';
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave'] as const) {
      canvas.addEventListener(type, () => {
        if (this.last) this.onStroke();
        this.last = null;
      });
    }
  }

  get empty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
    this.onChange(true);
  }

  /** The drawing's ink, one byte a pixel. */
  ink(): InkImage {
    const { width, height } = this.canvas;
    return inkFromRgba(this.ctx.getImageData(0, 0, width, height).data, width, height);
  }

  private at(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * this.canvas.width) / r.width,
      y: ((e.clientY - r.top) * this.canvas.height) / r.height,
    };
  }

  private down(e: PointerEvent): void {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    const p = this.at(e);
    this.ctx.beginPath();
    this.ctx.arc(p.x, p.y, this.ctx.lineWidth / 2, 0, 2 * Math.PI);
    this.ctx.fill();
    this.last = p;
    this.mark();
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    const p = this.at(e);
    this.ctx.beginPath();
    this.ctx.moveTo(this.last.x, this.last.y);
    this.ctx.lineTo(p.x, p.y);
    this.ctx.stroke();
    this.last = p;
    this.mark();
  }

  private mark(): void {
    if (this.inked) return;
    this.inked = true;
    this.onChange(false);
  }
}
