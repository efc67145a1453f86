/** The report charts: ticks, labels, and lines drawn where the data says. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { FONT_HEIGHT, FONT_WIDTH, glyphOf, textWidth } from '../../src/trainer/report/pixelFont';
import { legendSize, logTicks, niceTicks, placeLegend, plotLines, SERIES_COLOURS, tickLabel } from '../../src/trainer/report/plotPng';

const pixels = (buf: Buffer): { at: (x: number, y: number) => string; width: number; height: number } => {
  const png = PNG.sync.read(buf);
  return { at: (x, y) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)).join(), width: png.width, height: png.height };
};

describe('report plots', () => {
  it('picks round ticks and short labels', () => {
    assert.deepEqual(niceTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
    assert.deepEqual(niceTicks(0.13, 0.61, 5), [0.2, 0.3, 0.4, 0.5, 0.6]);
    assert.equal(tickLabel(1200), '1.2k');
    assert.equal(tickLabel(0.25), '0.25');
    assert.equal(tickLabel(0.00012), '1.2e-4');
    assert.equal(tickLabel(0), '0');
  });

  it('labels a log axis within one decade by 1, 2 and 5 times powers of ten, a wide one by the powers', () => {
    // A loss between 0.17 and 1.9 (log10 -0.77 to 0.28).
    assert.deepEqual(logTicks(Math.log10(0.17), Math.log10(1.9)), [0.2, 0.5, 1]);
    assert.deepEqual(logTicks(Math.log10(0.03), Math.log10(0.09)), [0.05]);
    assert.deepEqual(logTicks(-4.2, 0.1), [1e-4, 1e-3, 0.01, 0.1, 1]);
  });

  it('draws each series in its colour at the right height, the band shaded around it', () => {
    const png = PNG.sync.read(
      plotLines(
        [
          { x: [0, 100], y: [10, 10], low: [8, 8], high: [12, 12] },
          { x: [0, 100], y: [0, 0] },
        ],
        { width: 200, height: 120 },
      ),
    );
    const at = (x: number, y: number): number[] => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));
    const column = 120;
    const rows = Array.from({ length: png.height }, (_, y) => at(column, y));
    const blue = SERIES_COLOURS[0].rgb;
    const orange = SERIES_COLOURS[1].rgb;
    const blueRows = rows.map((c, y) => (c.join() === blue.join() ? y : -1)).filter((y) => y >= 0);
    const orangeRows = rows.map((c, y) => (c.join() === orange.join() ? y : -1)).filter((y) => y >= 0);
    assert.ok(blueRows.length > 0 && orangeRows.length > 0, 'both lines drawn');
    assert.ok(Math.max(...blueRows) < Math.min(...orangeRows), 'y = 10 is above y = 0');
    // The band: tinted (not white, not the line colour) just above the blue line.
    const above = rows[Math.min(...blueRows) - 3];
    assert.notDeepEqual(above, [255, 255, 255]);
    assert.ok(above[2] > above[0], `a blue tint: ${above}`);
  });

  it('has a 5x9 glyph for every letter, digit and name character, and "?" for the rest', () => {
    for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789 _-+=.,:/()%?') {
      const g = glyphOf(ch);
      assert.equal(g.length, FONT_HEIGHT, ch);
      for (const row of g) assert.equal(row.length, FONT_WIDTH, ch);
    }
    assert.deepEqual(glyphOf('K'), glyphOf('k'));
    assert.deepEqual(glyphOf('\u00e9'), glyphOf('?'));
    assert.notDeepEqual(glyphOf('n'), glyphOf('u'));
    assert.equal(textWidth(''), 0);
    assert.equal(textWidth('knn'), 3 * FONT_WIDTH + 2);
  });

  it('puts the legend in the corner the data leaves empty', () => {
    const area = { x: 0, y: 0, w: 400, h: 300 };
    const size = legendSize(['none', 'linear']);
    const falling = Array.from({ length: 400 }, (_, x) => [x, (x * 300) / 400] as const);
    const rising = falling.map(([x, y]) => [x, 300 - y] as const);
    const topRight = placeLegend(size, area, falling);
    assert.ok(topRight.x > 200 && topRight.y < 100, `a falling curve leaves the top right: ${JSON.stringify(topRight)}`);
    const forRising = placeLegend(size, area, rising);
    assert.ok(forRising.x < 200 && forRising.y < 100, `a rising one, the top left: ${JSON.stringify(forRising)}`);
    const flatTop = Array.from({ length: 400 }, (_, x) => [x, 20] as const);
    assert.ok(placeLegend(size, area, flatTop).y > 150, 'a line along the top pushes it down');
  });

  it('draws the legend (a swatch per series in order, then its name) and the axis titles', () => {
    const series = [
      { x: [0, 100], y: [10, 0] },
      { x: [0, 100], y: [9, 1] },
    ];
    const size = { width: 320, height: 200 };
    const plain = pixels(plotLines(series, size));
    const titled = pixels(plotLines(series, { ...size, names: ['none', 'linear'], xLabel: 'step', yLabel: 'fd_lenet' }));
    const blue = SERIES_COLOURS[0].rgb.join();
    const orange = SERIES_COLOURS[1].rgb.join();
    const dark = [60, 60, 60].join();
    // The legend: both lines fall from the top left, so it sits top right, swatches in series order.
    const rowsOf = (colour: string, x0: number, x1: number, y0: number, y1: number, p = titled): number[] => {
      const rows = new Set<number>();
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (p.at(x, y) === colour) rows.add(y);
      return [...rows];
    };
    const right = [size.width / 2, size.width] as const;
    const top = [0, size.height / 3] as const;
    const blueRows = rowsOf(blue, ...right, ...top);
    const orangeRows = rowsOf(orange, ...right, ...top);
    assert.ok(blueRows.length > 0 && orangeRows.length > 0, 'both swatches in the top right');
    assert.ok(Math.max(...blueRows) < Math.min(...orangeRows), 'the first series first');
    assert.equal(rowsOf(blue, ...right, ...top, plain).length, 0, 'no legend without names');
    assert.ok(rowsOf(dark, ...right, ...top).length >= FONT_HEIGHT - 2, 'names written beside them');
    // Titles: "step" under the x axis at the right, "fd_lenet" above the y axis.
    assert.ok(rowsOf(dark, size.width - 40, size.width, size.height - 14, size.height).length > 0, 'x title');
    assert.equal(rowsOf(dark, size.width - 40, size.width, size.height - 14, size.height, plain).length, 0);
    assert.ok(rowsOf(dark, 0, 60, 0, 14).length > 0, 'y title');
  });
});
