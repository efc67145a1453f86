/** Colours from VS Code's theme variables, so charts follow light, dark and high-contrast themes. */

const css = (name: string, fallback: string): string => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

const SERIES_VARS: [string, string][] = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-red', '#f14c4c'],
  ['--vscode-charts-yellow', '#cca700'],
];

export interface Palette {
  foreground: string;
  grid: string;
  font: string;
  series(i: number): string;
}

export function readPalette(): Palette {
  const colours = SERIES_VARS.map(([v, f]) => css(v, f));
  return {
    foreground: css('--vscode-foreground', '#cccccc'),
    grid: css('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)'),
    font: css('--vscode-font-family', 'sans-serif'),
    series: (i) => colours[i % colours.length],
  };
}

/** The raw line under a smoothed one, a band, a seed around its mean: the same colour, mostly transparent. */
export const faded = (colour: string, alpha = '40'): string => (/^#[0-9a-f]{6}$/i.test(colour) ? `${colour}${alpha}` : 'rgba(128,128,128,0.25)');
