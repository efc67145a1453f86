/** "Immiscible: Install Native TensorFlow Backend": npm install into the extension's global storage. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findNativeTf, installNativeTf, NATIVE_TF_PACKAGES, type NativeTfPackage } from '../nativeTf';

/** Where native TensorFlow goes; the launcher passes it to trainers (IMMISCIBLE_NATIVE_TF_DIR). */
export function nativeTfDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'native-tensorflow');
}

/** The @tensorflow/tfjs version the trainer is built with: the native backend must match it. */
function tfjsVersion(extensionPath: string): string {
  const pj = JSON.parse(fs.readFileSync(path.join(extensionPath, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return (pj.dependencies?.['@tensorflow/tfjs'] ?? '4.22.0').replace(/^[\^~]/, '');
}

export async function installNativeTensorflow(context: vscode.ExtensionContext): Promise<void> {
  const dir = nativeTfDir(context);
  const present = findNativeTf(dir);
  const pick = await vscode.window.showQuickPick(
    (Object.entries(NATIVE_TF_PACKAGES) as [NativeTfPackage, string][]).map(([pkg, what]) => {
      const have = present.find((p) => p.pkg === pkg);
      return { label: pkg, description: what, detail: have ? `installed: ${have.version} (installing again replaces it)` : undefined };
    }),
    { title: 'Install native TensorFlow for training (downloads about 300 MB; needs internet access)' },
  );
  if (!pick) return;
  const pkg = pick.label;
  const version = tfjsVersion(context.extensionPath);
  const channel = vscode.window.createOutputChannel('Immiscible: Native TensorFlow');
  channel.appendLine(`npm install ${pkg}@${version} in ${dir}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Installing ${pkg} ${version}`, cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return installNativeTf({
        dir,
        pkg,
        version,
        signal: abort.signal,
        onLine: (line) => {
          channel.appendLine(line);
          progress.report({ message: line.length > 80 ? `${line.slice(0, 77)}...` : line });
        },
      });
    },
  );
  channel.appendLine(result.message);
  if (result.ok) {
    void vscode.window.showInformationMessage(result.message);
  } else {
    const show = await vscode.window.showErrorMessage(result.message, 'Show Output');
    if (show) channel.show();
  }
}
