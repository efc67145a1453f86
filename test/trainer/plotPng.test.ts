/** The report charts: ticks, labels, and lines drawn where the data says. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { niceTicks, plotLines, SERIES_COLOURS, tickLabel } from '../../src/trainer/report/plotPng';

describe('report plots', () => {
  it('picks round ticks and short labels', () => {
    assert.deepEqual(niceTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
    assert.deepEqual(niceTicks(0.13, 0.61, 5), [0.2, 0.3, 0.4, 0.5, 0.6]);
    assert.equal(tickLabel(1200), '1.2k');
    assert.equal(tickLabel(0.25), '0.25');
    assert.equal(tickLabel(0.00012), '1.2e-4');
    assert.equal(tickLabel(0), '0');
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
});
