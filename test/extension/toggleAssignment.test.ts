import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { toggleAssignment, readAssignmentMode } from '../../src/extension/config/toggleAssignment';

test('toggles linear -> none -> linear keeping comments and formatting', () => {
  const text = `{
  // my experiment
  "seed": 3,
  "assignment": { "mode": "linear", "cost": "l2" }, /* keep */
  "training": { "steps": 10 }
}
`;
  const off = toggleAssignment(text, 'a.json');
  assert.equal(off.mode, 'none');
  assert.equal(off.previous, 'linear');
  assert.equal(off.text, text.replace('"mode": "linear"', '"mode": "none"'));
  const on = toggleAssignment(off.text, 'a.json', 'linear');
  assert.equal(on.text, text);
});

test('turning on restores the last active mode (knn)', () => {
  const r = toggleAssignment('{"assignment": {"mode": "none", "k": 8}}', 'b.json', 'knn');
  assert.equal(r.mode, 'knn');
  assert.match(r.text, /"mode": "knn"/);
  assert.match(r.text, /"k": 8/);
});

test('a config without assignment gets one, with the file indentation', () => {
  const r = toggleAssignment('{\n    "seed": 1\n}\n', 'c.json');
  assert.equal(r.mode, 'linear');
  assert.deepEqual(JSON.parse(r.text), { seed: 1, assignment: { mode: 'linear' } });
  assert.match(r.text, /\n {4}"assignment"/);
});

test('CRLF files stay CRLF', () => {
  const r = toggleAssignment('{\r\n  "assignment": {\r\n    "mode": "linear"\r\n  }\r\n}\r\n', 'd.json');
  assert.ok(!/[^\r]\n/.test(r.text));
});

test('bad files get a clear error naming the file and field', () => {
  assert.throws(() => readAssignmentMode('{"assignment": {"mode": "hungarian"}}', 'e.json'), /e\.json: assignment\.mode: expected one of "none", "linear", "knn", found "hungarian"/);
  assert.throws(() => readAssignmentMode('{"seed": ', 'f.json'), /f\.json: not valid JSON/);
  assert.throws(() => readAssignmentMode('[1]', 'g.json'), /g\.json: expected a JSON object/);
});
