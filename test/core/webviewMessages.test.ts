/** The dashboard protocol's guards: what both sides accept, and the message a bad one gets. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHostMessage, checkWebviewMessage } from '../../src/core/webview/messages';
import { makeRun, makeSeries } from '../webview/fixtures';

describe('dashboard messages', () => {
  it('accepts well-formed host messages', () => {
    const series = makeSeries('r', 3);
    assert.equal(checkHostMessage({ type: 'series', v: 1, append: false, series: { ...series, metrics: { ...series.metrics, loss: Float32Array.of(NaN, 1, 2) } } }).ok, true);
    // structuredClone: what a message becomes when it crosses into the page.
    assert.equal(checkHostMessage(structuredClone({ type: 'series', v: 1, append: true, series })).ok, true);
    assert.equal(checkHostMessage({ type: 'runs', v: 1, runs: [makeRun('a')] }).ok, true);
    assert.equal(checkHostMessage({ type: 'show', v: 1, view: 'compare', runIds: ['a', 'b'] }).ok, true);
  });
  it('names the field and what was expected', () => {
    const bad = (x: unknown): string => {
      const r = checkHostMessage(x);
      assert.equal(r.ok, false);
      return r.ok ? '' : r.problem;
    };
    assert.match(bad(null), /expected an object/);
    assert.match(bad({ type: 'nope', v: 1 }), /type: expected one of runs, show, series, exported, found "nope"/);
    assert.match(bad({ type: 'show', v: 2, view: 'run', runIds: [] }), /show\.v: expected 1, found 2/);
    assert.match(bad({ type: 'show', v: 1, view: 'grid', runIds: [] }), /show\.view: one of run, compare/);
    assert.match(bad({ type: 'runs', v: 1, runs: [{ ...makeRun('a'), step: '3' }] }), /runs\.runs: an array of step: a number \(item 0\)/);
    const s = makeSeries('r', 2);
    assert.match(bad({ type: 'series', v: 1, append: false, series: { ...s, metrics: { ...s.metrics, loss: [1, 2] } } }), /series\.series: metrics: loss: a Float32Array/);
  });
  it('checks the page messages the host acts on', () => {
    assert.equal(checkWebviewMessage({ type: 'watch', v: 1, runIds: ['a'] }).ok, true);
    assert.equal(checkWebviewMessage({ type: 'exportPng', v: 1, name: 'loss', dataUrl: 'data:image/png;base64,AAAA' }).ok, true);
    const r = checkWebviewMessage({ type: 'exportPng', v: 1, name: 'loss', dataUrl: 'javascript:alert(1)' });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problem, /dataUrl: a PNG data URL/);
    assert.equal(checkWebviewMessage({ type: 'watch', v: 1, runIds: 'a' }).ok, false);
  });
});
