/**
 * The dashboard page (dist/webview.js, as built) in real headless Chromium, outside VS Code: a
 * local HTTP server serves it with the same CSP as the extension's panel, and the page's
 * `acquireVsCodeApi` records what the page posts, as VS Code's does. Host messages reach it the
 * way VS Code delivers them: as `message` events on the window. Used by the component tests and
 * by `npm run bench:dashboard`.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostMessage, WebviewMessage } from '../../src/core/webview/messages';
import { toWire } from './fixtures';

export const ROOT = path.resolve(__dirname, '../..');
export const CHROMIUM = process.env.IMMISCIBLE_CHROMIUM ?? '/usr/bin/chromium';

/** Why the page cannot be tested here, or null. */
export function pageUnavailable(): string | null {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or scripts/e2e-setup.sh)`;
  if (!fs.existsSync(path.join(ROOT, 'dist', 'webview.js'))) return 'dist/webview.js is not built (npm run build)';
  return null;
}

/** Theme variables of VS Code's default dark and light themes that the page reads. */
export const THEMES: Record<'dark' | 'light', Record<string, string>> = {
  dark: {
    '--vscode-foreground': '#cccccc',
    '--vscode-editor-background': '#1f1f1f',
    '--vscode-editorWidget-background': '#202020',
    '--vscode-editorWidget-border': '#454545',
    '--vscode-panel-border': '#2b2b2b',
    '--vscode-sideBar-background': '#181818',
    '--vscode-button-background': '#0078d4',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-input-background': '#313131',
    '--vscode-input-foreground': '#cccccc',
    '--vscode-textLink-foreground': '#4daafc',
    '--vscode-charts-blue': '#3794ff',
    '--vscode-charts-orange': '#d18616',
  },
  light: {
    '--vscode-foreground': '#3b3b3b',
    '--vscode-editor-background': '#ffffff',
    '--vscode-editorWidget-background': '#f8f8f8',
    '--vscode-editorWidget-border': '#c8c8c8',
    '--vscode-panel-border': '#e5e5e5',
    '--vscode-sideBar-background': '#f8f8f8',
    '--vscode-button-background': '#005fb8',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-input-background': '#ffffff',
    '--vscode-input-foreground': '#3b3b3b',
    '--vscode-textLink-foreground': '#005fb8',
    '--vscode-charts-blue': '#1a85ff',
    '--vscode-charts-orange': '#c27d1a',
  },
};

export interface DashboardPage {
  page: Page;
  origin: string;
  /** Serves `file` at `${origin}/files/<name>` (sample grids). */
  serveFile(name: string, file: string): string;
  send(m: HostMessage | Record<string, unknown>): Promise<void>;
  /**
   * Loads the toWire text at `url` (served with serveFile) into the page as `window.stagedMessages`,
   * typed arrays rebuilt, without posting them: the benchmark times the posting alone. (Tens of MiB
   * are fetched by the page: Playwright's evaluate arguments do not carry that much.)
   */
  stage(url: string): Promise<void>;
  /** Resolves after the page has drawn what it was sent and painted it (two animation frames). */
  drawn(): Promise<void>;
  posted(): Promise<WebviewMessage[]>;
  close(): Promise<void>;
}

/**
 * toWire text (given, or fetched from `url`) parsed in the page with its typed arrays rebuilt,
 * then posted to the page as a host message (`wire`) or kept as window.stagedMessages (`url`).
 */
function intoPage(page: Page, o: { wire?: string; url?: string }): Promise<void> {
  return page.evaluate(async ({ wire, url }) => {
    const text = wire ?? (await (await fetch(url ?? '')).text());
    // Written out here, not passed as text: the page's CSP forbids eval. No named helpers either:
    // tsx would wrap them in a __name() the page does not have.
    const msg = JSON.parse(text, (_k: string, v: unknown): unknown => {
      if (typeof v !== 'object' || v === null) return v;
      if ('__f64' in v) return Float64Array.from((v as { __f64: (number | 'NaN')[] }).__f64, (x) => (x === 'NaN' ? NaN : x));
      if ('__f32' in v) return Float32Array.from((v as { __f32: (number | 'NaN')[] }).__f32, (x) => (x === 'NaN' ? NaN : x));
      return v;
    }) as unknown;
    if (wire !== undefined) window.postMessage(msg, '*');
    else (window as unknown as { stagedMessages: unknown }).stagedMessages = msg;
  }, o);
}

export async function openDashboardPage(o: { theme?: 'dark' | 'light'; width?: number; height?: number } = {}): Promise<DashboardPage> {
  const files = new Map<string, string>();
  const vars = Object.entries(THEMES[o.theme ?? 'dark'])
    .map(([k, v]) => `${k}: ${v};`)
    .join(' ');
  const csp = `default-src 'none'; img-src 'self' data:; style-src 'self'; connect-src 'self'; script-src 'self'`;
  const page0 = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="/dist/webview-style.css"><link rel="stylesheet" href="/theme.css"></head>
<body><div id="app"></div><script src="/shim.js"></script><script src="/dist/webview.js"></script></body></html>`;
  const shim = `window.__posted = []; window.__state = undefined;
window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => window.__state, setState: (s) => { window.__state = s; } });`;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const send = (type: string, body: string | Buffer): void => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url === '/' || url === '/index.html') return send('text/html', page0);
    if (url === '/shim.js') return send('text/javascript', shim);
    if (url === '/theme.css') return send('text/css', `body { ${vars} }`);
    if (url.startsWith('/dist/')) {
      const f = path.join(ROOT, 'dist', path.basename(url));
      if (fs.existsSync(f)) return send(url.endsWith('.css') ? 'text/css' : 'text/javascript', fs.readFileSync(f));
    }
    if (url.startsWith('/files/')) {
      const f = files.get(decodeURIComponent(url.slice('/files/'.length)));
      const types: Record<string, string> = { '.json': 'application/json', '.html': 'text/html', '.js': 'text/javascript', '.png': 'image/png' };
      if (f) return send(types[path.extname(f)] ?? 'application/octet-stream', fs.readFileSync(f));
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: o.width ?? 1400, height: o.height ?? 900 } });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'immiscibleDashboard' in window);
    const b = browser;
    return {
      page,
      origin,
      serveFile(name, file) {
        files.set(name, file);
        return `${origin}/files/${encodeURIComponent(name)}`;
      },
      send: (m) => intoPage(page, { wire: toWire(m) }),
      stage: (url) => intoPage(page, { url }),
      drawn: async () => {
        // Messages are drawn once a burst settles (a short timer, then a frame), then painted.
        await page.waitForFunction(() => (window as unknown as { immiscibleDashboard: { settled: boolean } }).immiscibleDashboard.settled);
        await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
      },
      posted: () => page.evaluate(() => (window as unknown as { __posted: WebviewMessage[] }).__posted),
      async close() {
        await b.close();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}
