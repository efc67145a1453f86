// Each run directory's training throughput: images/s over the second half of its steps, from
// metrics.jsonl's wall times (the first half holds the warm-up and, for a replayed step, its
// captures), and what train.log says about the step's replay and the noise threads.
// Usage: node scripts/runs-throughput.mjs RUNS_DIR
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.log(`runs-throughput: no runs directory ${dir ?? '(none given)'}`);
  process.exit(0);
}
for (const name of readdirSync(dir).sort()) {
  const run = join(dir, name);
  const metrics = join(run, 'metrics.jsonl');
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const log = existsSync(join(run, 'train.log')) ? readFileSync(join(run, 'train.log'), 'utf8') : '';
  const notes = log.split('\n').filter((l) => /webgpu: the training step|noise: |\[error\]/.test(l)).map((l) => l.replace(/^\S+ /, ''));
  // A torn last line (a run killed mid-write) is skipped.
  const lines = existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } }) : [];
  if (lines.length < 4) {
    console.log(`${config.name}: ${lines.length} steps logged; ${notes.join('; ')}`);
    continue;
  }
  const half = lines.slice(Math.floor(lines.length / 2));
  const seconds = half[half.length - 1].wallTime - half[0].wallTime;
  const images = (half.length - 1) * config.training.batchSize;
  console.log(`${config.name}: ${(images / seconds).toFixed(0)} images/s over steps ${half[0].step}-${half[half.length - 1].step} (batch ${config.training.batchSize}); ${notes.join('; ')}`);
}
