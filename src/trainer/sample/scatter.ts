/** Draws 2-D samples as a scatter plot PNG (the toy data's "grid"). */
import { PNG } from 'pngjs';

export function encodeScatter(points: Float32Array, extent = 3, side = 256): Buffer {
  const png = new PNG({ width: side, height: side });
  png.data.fill(255);
  const put = (x: number, y: number, r: number, g: number, b: number): void => {
    if (x < 0 || y < 0 || x >= side || y >= side) return;
    const i = (y * side + x) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
  };
  for (let i = 0; i < side; i++) {
    put(i, side >> 1, 220, 220, 220);
    put(side >> 1, i, 220, 220, 220);
  }
  for (let i = 0; i + 1 < points.length; i += 2) {
    const px = Math.round(((points[i] + extent) / (2 * extent)) * (side - 1));
    const py = Math.round(((extent - points[i + 1]) / (2 * extent)) * (side - 1));
    put(px, py, 30, 80, 200);
    put(px + 1, py, 30, 80, 200);
    put(px, py + 1, 30, 80, 200);
  }
  return PNG.sync.write(png);
}
