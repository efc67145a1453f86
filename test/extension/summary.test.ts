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
