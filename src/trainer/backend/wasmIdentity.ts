/**
 * A zero-copy `Identity` for the wasm backend. The engine clones every tensor it saves for the
 * backward pass through `Identity`, and the stock wasm kernel copies the data each time (about
 * 400 copies per UNet step, 6% of its time, and as much again in heap). Sharing the buffer, as
 * wasm's own `Reshape` and the cpu backend's `Identity` do, is safe: no kernel writes its inputs.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-wasm';

const sharedIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export function registerWasmIdentity(): void {
  const current = tf.getKernel(tf.Identity, 'wasm');
  if (current?.kernelFunc === sharedIdentity) return;
  if (current != null) tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({ kernelName: tf.Identity, backendName: 'wasm', kernelFunc: sharedIdentity });
}
