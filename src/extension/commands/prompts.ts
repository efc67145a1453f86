/**
 * The steps of the multi-step launch wizards (Launch Run, Launch Paired Comparison, Launch
 * Study). They stay open when the focus moves (ignoreFocusOut): a webview finishing its load, or
 * a glance at a config file, must not throw away the answers given so far.
 */
import * as vscode from 'vscode';

export async function askText(title: string, value: string): Promise<string | undefined> {
  return vscode.window.showInputBox({ title, value, ignoreFocusOut: true });
}

export async function askInteger(title: string, value: number, min: number): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    title,
    value: String(value),
    ignoreFocusOut: true,
    validateInput: (s) => (/^\d+$/.test(s.trim()) && Number(s) >= min ? null : `an integer >= ${min}`),
  });
  return v === undefined ? undefined : Number(v.trim());
}

export function askOne<T extends vscode.QuickPickItem>(items: T[], options: Omit<vscode.QuickPickOptions, 'canPickMany'>): Thenable<T | undefined> {
  return vscode.window.showQuickPick(items, { ...options, ignoreFocusOut: true });
}

export function askMany<T extends vscode.QuickPickItem>(items: T[], title: string): Thenable<T[] | undefined> {
  return vscode.window.showQuickPick(items, { title, canPickMany: true, ignoreFocusOut: true });
}
