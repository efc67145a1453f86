// "Install Native TensorFlow Backend": a real npm run that cannot reach its registry fails with
// the offline explanation; a missing npm is named; the trainer looks in the install directory
// and reports a package there that fails to load.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { explainInstallFailure, findNativeTf, installNativeTf } from '../../src/extension/nativeTf';
import { selectBackend } from '../../src/trainer/backend/select';

/** A proxy could answer for the unreachable registry with another error: none here. */
function withoutProxies(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?_proxy|all_proxy|npm_config_(https_)?proxy)$/i.test(k)) delete env[k];
  return env;
}

const nativeInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
  try {
    require.resolve(p);
    return true;
  } catch {
    return false;
  }
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-nativetf-'));

test('offline (registry unreachable), npm install fails with a message that says so', async () => {
  const dir = tmp();
  const cache = tmp();
  const lines: string[] = [];
  const r = await installNativeTf({
    dir,
    pkg: '@tensorflow/tfjs-node',
    version: '4.22.0',
    // A name that cannot resolve (RFC 6761) and an empty cache: npm has to go to the network.
    env: { ...withoutProxies(), npm_config_registry: 'http://registry.invalid/', npm_config_cache: cache, npm_config_fetch_retries: '0', npm_config_offline: 'false', npm_config_prefer_offline: 'false' },
    onLine: (l) => lines.push(l),
  });
  assert.equal(r.ok, false);
  assert.match(r.message, /no internet access/, `${r.message}\n${lines.join('\n')}`);
  assert.ok(lines.length > 0, 'npm output reaches the output channel');
  assert.ok(fs.existsSync(path.join(dir, 'package.json')), 'the directory is prepared');
  assert.deepEqual(findNativeTf(dir), []);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(cache, { recursive: true, force: true });
});

test('a missing npm is named', async () => {
  const dir = tmp();
  const r = await installNativeTf({ dir, pkg: '@tensorflow/tfjs-node', version: '4.22.0', npm: path.join(dir, 'no-such-npm') });
  assert.equal(r.ok, false);
  assert.match(r.message, /npm was not found/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('other npm failures quote its error lines', () => {
  const m = explainInstallFailure('@tensorflow/tfjs-node', 'npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/x', 1);
  assert.match(m, /exited with 1: npm error code E404/);
  assert.match(explainInstallFailure('p', 'npm error getaddrinfo ENOTFOUND storage.googleapis.com', 1), /no internet access/);
});

test('the trainer looks in IMMISCIBLE_NATIVE_TF_DIR and says why a package there did not load', { skip: nativeInstalled && 'tfjs-node is installed beside us' }, async () => {
  const dir = tmp();
  const pkg = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node');
  fs.mkdirSync(pkg, { recursive: true });
  // What tfjs-node does when its install could not download libtensorflow.
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', version: '4.22.0', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), "throw new Error('libtensorflow.so.2: cannot open shared object file: No such file or directory');\n");
  const before = process.env.IMMISCIBLE_NATIVE_TF_DIR;
  process.env.IMMISCIBLE_NATIVE_TF_DIR = dir;
  try {
    await assert.rejects(selectBackend('tensorflow'), (e: Error) => e.message.includes(`@tensorflow/tfjs-node (in ${dir}) is installed but failed to load: libtensorflow.so.2`));
    const choice = await selectBackend('auto');
    assert.notEqual(choice.name, 'tensorflow');
    assert.match(choice.reasons.tensorflow, /failed to load/);
    // An empty directory (another one: Node caches module resolution within a process).
    const empty = tmp();
    process.env.IMMISCIBLE_NATIVE_TF_DIR = empty;
    const none = await selectBackend('auto');
    assert.ok(none.reasons.tensorflow.includes(`looked in node_modules and ${empty}`), none.reasons.tensorflow);
    fs.rmSync(empty, { recursive: true, force: true });
  } finally {
    if (before === undefined) delete process.env.IMMISCIBLE_NATIVE_TF_DIR;
    else process.env.IMMISCIBLE_NATIVE_TF_DIR = before;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
