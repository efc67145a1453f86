import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { envSwitch } from '../../src/trainer/envSwitch';

test('an environment switch reads 1, true, 0 and false; unset or empty is the default; anything else names the variable', () => {
  for (const [raw, want] of [['1', true], ['true', true], ['0', false], ['false', false]] as const) {
    assert.equal(envSwitch('X', !want, { X: raw }), want, raw);
  }
  assert.equal(envSwitch('X', true, {}), true);
  assert.equal(envSwitch('X', false, { X: '' }), false);
  // 'false' once left a switch on (only '0' turned it off); a typo must not pass silently either.
  assert.throws(() => envSwitch('IMMISCIBLE_WEBGPU_REPLAY', true, { IMMISCIBLE_WEBGPU_REPLAY: 'off' }), /IMMISCIBLE_WEBGPU_REPLAY: expected true, false, 1 or 0, got 'off'/);
});
