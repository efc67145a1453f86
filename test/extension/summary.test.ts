import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig } from '../../src/core/config/types';
import { configSummary } from '../../src/extension/runs/summary';

function cfg(input: unknown): RunConfig {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

test('the run summary names the objective; configs from before the field are DDPM runs', () => {
  const ddpm = cfg({});
  assert.ok(configSummary(ddpm, null).includes('diffusion: T 1000, linear schedule'));
  const { objective: _dropped, ...old } = ddpm;
  assert.ok(configSummary(old as RunConfig, null).includes('diffusion: T 1000, linear schedule'));
  assert.ok(configSummary(cfg({ objective: 'flow', sampling: { sampler: 'dopri5' } }), null).includes('flow matching: uniform times, sampler dopri5'));
  assert.ok(
    configSummary(cfg({ objective: 'consistency', sampling: { sampler: 'onestep' } }), null).includes('consistency training: curriculum 10 to 1280 intervals, sampler onestep'),
  );
});

test("the run summary says where kNN's candidates were drawn, and only where not on the CPU", () => {
  const line = (c: RunConfig): string | undefined => configSummary(c, null).find((l) => l.startsWith('assignment: '));
  assert.equal(line(cfg({ assignment: { mode: 'knn', k: 8 } })), 'assignment: knn, cost l2, k 8');
  assert.equal(line(cfg({ assignment: { mode: 'knn', k: 8, knnOn: 'backend' } })), 'assignment: knn, cost l2, k 8, candidates drawn on the backend (Philox)');
  const { knnOn: _dropped, ...old } = cfg({ assignment: { mode: 'knn', k: 8 } }).assignment;
  assert.equal(line({ ...cfg({}), assignment: old as RunConfig['assignment'] }), 'assignment: knn, cost l2, k 8');
});
