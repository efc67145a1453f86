import { RunLauncher } from './src/extension/launch/launcher';
import { startSlurm } from './test/fixtures/slurmCluster';
import * as fs from 'node:fs';
(async () => {
  const c = await startSlurm();
  fs.writeFileSync('/tmp/tiny.json', JSON.stringify({ backend: 'wasm', data: { source: 'toy2d', count: 1024 }, model: { type: 'mlp', hidden: 16, layers: 1 }, training: { steps: 100, batchSize: 16, sampleEvery: 0, checkpointEvery: 0 }, evaluation: { every: 0 } }));
  const l = new RunLauncher({ trainerJs: '/work/main/dist/trainer.js', cwd: '/tmp', env: c.env, checkIntervalMs: 200 });
  l.on('stderr', (j, line) => console.log('stderr', line));
  l.on('state', (j) => console.log('state', j.state));
  const job = l.submit({ config: '/tmp/tiny.json', runsDir: '/tmp/dbgruns', sbatchArgs: [] });
  console.log(await job.done);
  l.dispose();
  await c.stop();
})();
