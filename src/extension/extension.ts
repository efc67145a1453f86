import * as vscode from 'vscode';

/** Activation entry point. Commands, views and the launcher arrive with the extension issue. */
export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Immiscible Lab');
  context.subscriptions.push(channel);
  channel.appendLine('Immiscible Lab activated');
}

export function deactivate(): void {}
