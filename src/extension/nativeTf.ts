/**
 * Installing native TensorFlow (`@tensorflow/tfjs-node` or `@tensorflow/tfjs-node-gpu`) into a
 * directory of the extension's global storage, where the trainer looks for it
 * (IMMISCIBLE_NATIVE_TF_DIR, see src/trainer/backend/select.ts). Their install script downloads
 * libtensorflow from Google's storage, so this needs internet access; offline it fails, and the
 * failure is explained. No VS Code API here: the command (commands/nativeTf.ts) adds the UI.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The environment variable through which the launcher tells the trainer where to look. */
export const NATIVE_TF_DIR_ENV = 'IMMISCIBLE_NATIVE_TF_DIR';

export const NATIVE_TF_PACKAGES = {
  '@tensorflow/tfjs-node': 'CPU (native TensorFlow: faster than WebAssembly on many cores)',
  '@tensorflow/tfjs-node-gpu': 'NVIDIA GPU through CUDA 11.2 and cuDNN 8.1 (libtensorflow 2.9), which must be installed',
} as const;
export type NativeTfPackage = keyof typeof NATIVE_TF_PACKAGES;

export interface InstallResult {
  ok: boolean;
  /** One paragraph for the user: what happened and what to do. */
  message: string;
  /** The last lines npm printed. */
  tail: string[];
}

const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|getaddrinfo|network request to .* failed|socket hang up|self[- ]signed certificate|unable to get local issuer certificate/i;

/** Turns npm's output into the reason a user can act on. */
export function explainInstallFailure(pkg: string, output: string, code: number | null, spawnError?: string): string {
  if (spawnError && /ENOENT/.test(spawnError)) {
    return `Could not install ${pkg}: npm was not found on PATH. Install Node.js (which includes npm), then run this command again.`;
  }
  if (OFFLINE.test(output) || (spawnError && OFFLINE.test(spawnError))) {
    return (
      `Could not install ${pkg}: no internet access (npm and its install script must download the package and libtensorflow from ` +
      `registry.npmjs.org and storage.googleapis.com). Connect, or set npm's proxy, and run this command again. ` +
      `Until then training uses WebGPU or WebAssembly.`
    );
  }
  const last = output.trim().split('\n').filter((l) => /ERR|error/i.test(l)).slice(-3).join(' | ');
  return `Could not install ${pkg}: npm exited with ${code ?? 'a signal'}${last ? `: ${last}` : ''}. The full output is in the output channel.`;
}

/** The directory's package.json, created on first use. */
function prepare(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const pj = path.join(dir, 'package.json');
  if (!fs.existsSync(pj)) {
    fs.writeFileSync(pj, JSON.stringify({ name: 'immiscible-native-tensorflow', private: true, description: 'Native TensorFlow for Immiscible Lab', dependencies: {} }, null, 2) + '\n');
  }
}

/**
 * `npm install <pkg>@<version>` in `dir`. `version` should be the trainer's @tensorflow/tfjs
 * version: the native backend registers into the same tfjs engine and must match it.
 */
export function installNativeTf(o: {
  dir: string;
  pkg: NativeTfPackage;
  version: string;
  npm?: string;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<InstallResult> {
  prepare(o.dir);
  const npm = o.npm ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm');
  const args = ['install', '--no-audit', '--no-fund', '--save-exact', '--foreground-scripts', `${o.pkg}@${o.version}`];
  return new Promise((resolve) => {
    const lines: string[] = [];
    let output = '';
    const take = (chunk: Buffer): void => {
      const s = chunk.toString('utf8');
      output += s;
      for (const line of s.split(/\r?\n/)) {
        if (!line.trim()) continue;
        lines.push(line);
        if (lines.length > 200) lines.shift();
        o.onLine?.(line);
      }
    };
    let child;
    try {
      child = spawn(npm, args, { cwd: o.dir, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32', signal: o.signal });
    } catch (e) {
      resolve({ ok: false, message: explainInstallFailure(o.pkg, '', null, (e as Error).message), tail: [] });
      return;
    }
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    let spawnError: string | undefined;
    child.on('error', (e) => {
      spawnError = `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`;
    });
    child.on('close', (code) => {
      const tail = lines.slice(-20);
      if (o.signal?.aborted) {
        resolve({ ok: false, message: `Installing ${o.pkg} was cancelled.`, tail });
        return;
      }
      if (code === 0 && !spawnError) {
        const where = findNativeTf(o.dir).find((p) => p.pkg === o.pkg);
        if (!where) {
          resolve({ ok: false, message: `npm finished but ${o.pkg} is not in ${o.dir}/node_modules.`, tail });
          return;
        }
        resolve({ ok: true, message: `Installed ${o.pkg} ${where.version} in ${o.dir}. New runs with backend 'auto' or 'tensorflow' will try it first.`, tail });
        return;
      }
      resolve({ ok: false, message: explainInstallFailure(o.pkg, output, code, spawnError), tail });
    });
  });
}

/** The native TensorFlow packages present in `dir`, with their versions. */
export function findNativeTf(dir: string): { pkg: NativeTfPackage; version: string }[] {
  const out: { pkg: NativeTfPackage; version: string }[] = [];
  for (const pkg of Object.keys(NATIVE_TF_PACKAGES) as NativeTfPackage[]) {
    try {
      const pj = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string };
      out.push({ pkg, version: pj.version ?? '?' });
    } catch {
      // not there
    }
  }
  return out;
}
