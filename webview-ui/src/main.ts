/** Entry point of the dashboard page (bundled to dist/webview.js). */
import { App } from './app';
import { onHostMessage, post } from './vscodeApi';

const root = document.getElementById('app');
if (!root) throw new Error('dashboard: #app is missing from the page');
const app = new App(root);
onHostMessage((m) => app.handle(m));
// Read by the component tests and the benchmark in Chromium: the page's state, no behaviour.
(window as unknown as { immiscibleDashboard: App }).immiscibleDashboard = app;
post({ type: 'ready', v: 1 });
app.resume();
