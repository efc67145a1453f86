/** Lays images out in a PNG grid (pixels in [-1, 1]), upscaled so small images stay visible. */
import { PNG } from 'pngjs';

export interface GridOptions {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Minimum side of the grid in pixels; images are upscaled by an integer factor to reach it. */
  minSide?: number;
  pad?: number;
}

export function gridLayout(count: number): { rows: number; cols: number } {
  const cols = Math.ceil(Math.sqrt(count));
  return { rows: Math.ceil(count / cols), cols };
}

export function encodeGrid(pixels: Float32Array, o: GridOptions): Buffer {
  const { rows, cols } = gridLayout(o.count);
  const pad = o.pad ?? 2;
  const scale = Math.max(1, Math.ceil((o.minSide ?? 256) / (cols * o.width)));
  const cw = o.width * scale;
  const ch = o.height * scale;
  const W = cols * cw + (cols + 1) * pad;
  const H = rows * ch + (rows + 1) * pad;
  const png = new PNG({ width: W, height: H });
  png.data.fill(255);
  const per = o.height * o.width * o.channels;
  for (let n = 0; n < o.count; n++) {
    const gx = pad + (n % cols) * (cw + pad);
    const gy = pad + Math.floor(n / cols) * (ch + pad);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const src = n * per + (Math.floor(y / scale) * o.width + Math.floor(x / scale)) * o.channels;
        const dst = ((gy + y) * W + gx + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = pixels[src + (o.channels === 1 ? 0 : c)];
          png.data[dst + c] = Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5);
        }
        png.data[dst + 3] = 255;
      }
    }
  }
  return PNG.sync.write(png);
}
