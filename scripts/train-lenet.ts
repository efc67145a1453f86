/**
 * Trains the `lenet` feature extractor on the embedded MNIST and writes the shipped weights
 * (media/extractors/lenet-mnist.bin + .json) with the test-split accuracy in the manifest.
 * Reproducible: fixed seed for the initial weights and the data order, Adam, wasm backend.
 *   node --import tsx scripts/train-lenet.ts [--epochs 3] [--batch 64] [--lr 0.001] [--seed 7] [--out media/extractors/lenet-mnist]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendRequest } from '../src/trainer/backend/select';
import { loadMnist } from '../src/trainer/data/mnist';
import { Rng } from '../src/trainer/rng';
import { lenetForward, lenetInitialValues, LENET_PARAMS } from '../src/trainer/metrics/lenet/network';
import { lenetAccuracy, mnistUnit } from '../src/trainer/metrics/lenet/accuracy';
import { writeLenetWeights } from '../src/trainer/metrics/lenet/weightsFile';

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      epochs: { type: 'string', default: '3' },
      batch: { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.001' },
      seed: { type: 'string', default: '7' },
      backend: { type: 'string', default: 'wasm' },
      out: { type: 'string', default: 'media/extractors/lenet-mnist' },
    },
  });
  const epochs = Number(o.epochs);
  const batch = Number(o.batch);
  const lr = Number(o.lr);
  const seed = Number(o.seed);

  const backend = await selectBackend(o.backend as BackendRequest);
  const train = loadMnist('train');
  const test = loadMnist('test');
  const xTrain = mnistUnit(train.pixels);
  const labels = train.labels as Int32Array;
  const init = lenetInitialValues(seed);
  const vars = new Map(LENET_PARAMS.map((p) => [p.name, tf.variable(tf.tensor(init.get(p.name) as Float32Array, p.shape), true, `lenet/${p.name}`)]));
  const weights = Object.fromEntries(vars);
  const opt = tf.train.adam(lr);
  const rng = new Rng(seed + 1);
  const per = 28 * 28;
  const t0 = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.permutation(train.count);
    let lossSum = 0;
    let batches = 0;
    for (let s = 0; s + batch <= train.count; s += batch) {
      const xb = new Float32Array(batch * per);
      const yb = new Int32Array(batch);
      for (let i = 0; i < batch; i++) {
        const j = order[s + i];
        xb.set(xTrain.subarray(j * per, (j + 1) * per), i * per);
        yb[i] = labels[j];
      }
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(xb, [batch, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(yb, 'int32'), 10);
        return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, lenetForward(weights, x).logits) as tf.Scalar, true) as tf.Scalar;
      });
      lossSum += (await loss.data())[0];
      loss.dispose();
      batches++;
    }
    console.error(`epoch ${epoch + 1}/${epochs}: mean loss ${(lossSum / batches).toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const acc = await lenetAccuracy(weights, test);
  const values = new Map<string, Float32Array>();
  for (const [name, v] of vars) values.set(name, (await v.data()) as Float32Array);
  const manifest = writeLenetWeights(o.out as string, values, {
    training: {
      data: 'MNIST train split (embedded, 60000 images), pixels in [0, 1]',
      script: 'scripts/train-lenet.ts',
      epochs,
      batchSize: batch,
      optimizer: 'adam',
      lr,
      seed,
      backend: `${backend.name} (${backend.device})`,
      seconds: Math.round(seconds),
    },
    testAccuracy: acc.accuracy,
    testExamples: acc.count,
  });
  console.log(JSON.stringify({ out: o.out, sha256: manifest.sha256, testAccuracy: acc.accuracy, testExamples: acc.count, seconds: Math.round(seconds) }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
