import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyOverrides, parseConfig, validateConfig, ConfigError } from '../../src/core/config/validate';
import { configJsonSchema } from '../../src/core/config/schema';

const root = path.resolve(__dirname, '../..');

test('defaults fill an empty config', () => {
  const r = validateConfig({});
  assert.ok(r.ok);
  assert.equal(r.config.data.source, 'mnist');
  assert.equal(r.config.assignment.mode, 'none');
  assert.equal(r.config.assignment.cost, 'l2');
  assert.equal(r.config.training.batchSize, 64);
  assert.deepEqual(r.config.model.channelMults, [1, 2, 2]);
});

test('every preset in configs/ is valid', () => {
  const dir = path.join(root, 'configs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) parseConfig(fs.readFileSync(path.join(dir, f), 'utf8'), f);
});

test('the committed JSON Schema is the one derived from the spec', () => {
  const committed = JSON.parse(fs.readFileSync(path.join(root, 'schemas/immiscible-config.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, configJsonSchema(), 'run: node bin/immiscible.js schema > schemas/immiscible-config.schema.json');
});

const unet = { model: { type: 'unet' } };
const bad: [string, unknown, string, RegExp][] = [
  ['not an object', [], '(root)', /expected an object, found an array/],
  ['unknown top-level key with suggestion', { sed: 1 }, 'sed', /did you mean "seed"/],
  ['unknown nested key', { training: { batchsize: 8 } }, 'training.batchsize', /did you mean "batchSize"/],
  ['negative seed', { seed: -1 }, 'seed', /expected an integer >= 0.*found number -1/],
  ['fractional seed', { seed: 1.5 }, 'seed', /an integer/],
  ['backend typo', { backend: 'gpu' }, 'backend', /one of "auto", "tensorflow", "webgpu", "wasm", "cpu", found the string "gpu"/],
  ['data source unknown', { data: { source: 'imagenet' } }, 'data.source', /one of "mnist"/],
  ['idx without path', { data: { source: 'idx' } }, 'data.path', /required when data.source is "idx"/],
  ['folder path empty', { data: { source: 'folder', path: '' } }, 'data.path', /non-empty string/],
  ['imageSize too small', { data: { imageSize: 2 } }, 'data.imageSize', />= 4/],
  ['imageSize not divisible by levels', { data: { imageSize: 14 }, model: { channelMults: [1, 2, 2] } }, 'data.imageSize', /multiple of 4/],
  ['flip not boolean', { data: { flip: 'yes' } }, 'data.flip', /true or false, found the string "yes"/],
  ['channelMults empty', { model: { channelMults: [] } }, 'model.channelMults', /at least 1 item/],
  ['channelMults item not integer', { model: { channelMults: [1, 'two'] } }, 'model.channelMults[1]', /an integer >= 1/],
  ['attention at a missing resolution', { data: { imageSize: 28 }, model: { attentionResolutions: [5] } }, 'model.attentionResolutions[0]', /one of the UNet's resolutions 28, 14, 7/],
  ['groups not dividing channels', { model: { baseChannels: 12, groups: 8 } }, 'model.baseChannels', /multiple of model.groups = 8/],
  ['dropout too large', { model: { dropout: 1.5 } }, 'model.dropout', /<= 0.9/],
  ['mlp on images', { model: { type: 'mlp' } }, 'model.type', /"unet" \(data.source "mnist" is images\)/],
  ['unet on toy data', { data: { source: 'toy2d' }, ...unet }, 'model.type', /"mlp"/],
  ['class conditional toy', { data: { source: 'toy2d' }, model: { type: 'mlp', classConditional: true } }, 'model.classConditional', /no labels/],
  ['timesteps 1', { diffusion: { timesteps: 1 } }, 'diffusion.timesteps', />= 2/],
  ['schedule unknown', { diffusion: { schedule: 'quadratic' } }, 'diffusion.schedule', /"linear", "cosine"/],
  ['betaStart zero', { diffusion: { betaStart: 0 } }, 'diffusion.betaStart', /> 0/],
  ['betaEnd below betaStart', { diffusion: { betaStart: 0.02, betaEnd: 0.01 } }, 'diffusion.betaEnd', />= diffusion.betaStart/],
  ['assignment mode unknown', { assignment: { mode: 'hungarian' } }, 'assignment.mode', /"none", "linear", "knn"/],
  ['assignment cost unknown', { assignment: { cost: 'l1' } }, 'assignment.cost', /"l2", "sqeuclidean"/],
  ['knn with k 1', { assignment: { mode: 'knn', k: 1 } }, 'assignment.k', />= 2 when assignment.mode is "knn"/],
  ['steps zero', { training: { steps: 0 } }, 'training.steps', />= 1/],
  ['accumulate not dividing the batch', { training: { batchSize: 10, accumulate: 3 } }, 'training.accumulate', /a divisor of training.batchSize \(10\), found number 3/],
  ['assignment scope unknown', { assignment: { scope: 'device' } }, 'assignment.scope', /"global", "micro"/],
  ['batch size string', { training: { batchSize: '64' } }, 'training.batchSize', /an integer.*found the string "64"/],
  ['lr zero', { training: { lr: 0 } }, 'training.lr', /> 0/],
  ['lr NaN-like', { training: { lr: null } }, 'training.lr', /found null/],
  ['emaDecay above 1', { training: { emaDecay: 1.01 } }, 'training.emaDecay', /<= 1/],
  ['ddim steps above timesteps', { diffusion: { timesteps: 10 }, sampling: { steps: 50 } }, 'sampling.steps', /at most diffusion.timesteps \(10\)/],
  ['sampler unknown', { sampling: { sampler: 'heun' } }, 'sampling.sampler', /"ddim", "ddpm"/],
  ['sampler of another objective', { sampling: { sampler: 'euler' } }, 'sampling.sampler', /"ddim" or "ddpm" with objective "ddpm"/],
  ['objective unknown', { objective: 'edm' }, 'objective', /"ddpm", "consistency", "flow"/],
  ['consistency sampleSigmas above sigmaMax', { objective: 'consistency', sampling: { sampler: 'multistep' }, consistency: { sampleSigmas: [90] } }, 'consistency.sampleSigmas[0]', /below consistency\.sigmaMax \(80\)/],
  ['flow tolerance zero', { objective: 'flow', sampling: { sampler: 'dopri5' }, flow: { atol: 0 } }, 'flow.atol', /a number > 0/],
  ['eta above 1', { sampling: { eta: 2 } }, 'sampling.eta', /<= 1/],
  ['guidance without conditioning', { sampling: { guidanceScale: 3 } }, 'sampling.guidanceScale', /1 unless model.classConditional/],
  ['version 2', { version: 2 }, 'version', /<= 1/],
];

for (const [name, input, field, message] of bad) {
  test(`bad config: ${name}`, () => {
    const r = validateConfig(input);
    assert.equal(r.ok, false, 'should be rejected');
    if (r.ok) return;
    const issue = r.issues.find((i) => i.path === (field === '(root)' ? '' : field));
    assert.ok(issue, `no issue at ${field}; got ${JSON.stringify(r.issues)}`);
    const text = `${issue.path || '(root)'}: expected ${issue.expected}, found ${issue.found}`;
    assert.match(text, message);
  });
}

test('parseConfig names the file and each field in its error', () => {
  assert.throws(
    () => parseConfig('{"training": {"steps": -5, "lr": "fast"}}', 'my.immiscible.json'),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^my\.immiscible\.json: invalid config/.test(e.message) &&
      /training\.steps: expected an integer >= 1, found number -5/.test(e.message) &&
      /training\.lr: expected a number > 0 and <= 1, found the string "fast"/.test(e.message),
  );
});

test('parseConfig reports broken JSON', () => {
  assert.throws(() => parseConfig('{"seed": 1,', 'broken.json'), /broken\.json: invalid config\n {2}\(root\): expected valid JSON/);
});

test('overrides set nested values, parsed as JSON when possible', () => {
  const o = applyOverrides({ training: { steps: 10 } }, ['training.steps=20', 'assignment.mode=knn', 'model.channelMults=[1,2]']) as Record<string, Record<string, unknown>>;
  assert.equal(o.training.steps, 20);
  assert.equal(o.assignment.mode, 'knn');
  assert.deepEqual(o.model.channelMults, [1, 2]);
  assert.throws(() => applyOverrides({}, ['nokey']), /key=value/);
});
