/** The page's only channel to the extension host: typed, and every incoming message checked. */
import { checkHostMessage, type HostMessage, type WebviewMessage } from '../../src/core/webview/messages';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(message: WebviewMessage): void {
  api.postMessage(message);
}

export function loadState<T>(): Partial<T> {
  const s = api.getState();
  return typeof s === 'object' && s !== null ? (s as Partial<T>) : {};
}

export function saveState<T>(state: T): void {
  api.setState(state);
}

/** Calls `handle` with each valid host message; an invalid one is logged here and reported to the host. */
export function onHostMessage(handle: (m: HostMessage) => void): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const r = checkHostMessage(event.data);
    if (!r.ok) {
      console.error(`Immiscible dashboard: rejected a message from the host: ${r.problem}`);
      post({ type: 'log', v: 1, level: 'error', message: `webview rejected a host message: ${r.problem}` });
      return;
    }
    handle(r.message);
  });
}
