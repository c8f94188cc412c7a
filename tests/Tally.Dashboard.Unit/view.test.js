import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createView, whenCurrent, debounce } from '../../src/Tally.Server/Dashboard/wwwroot/js/view.js';

/** A promise settled from outside, standing in for an answer that arrives when the test says so. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** A view whose loads wait for answers the test hands out, and which records what it drew. */
function recordingView() {
  const answers = new Map();
  const drawn = [];
  const failed = [];
  const signals = new Map();
  const view = createView({
    pending: (state) => drawn.push(`pending ${state}`),
    load: (state, signal) => {
      signals.set(state, signal);
      const answer = deferred();
      answers.set(state, answer);
      return whenCurrent(signal, answer.promise);
    },
    render: (data, state) => { drawn.push(`${state}: ${data}`); },
    fail: (error, state) => { failed.push(`${state}: ${error.message}`); },
  });
  return { view, answers, drawn, failed, signals };
}

test('a new run aborts the one before: a slow old answer is never drawn over a newer one', async () => {
  const { view, answers, drawn, signals } = recordingView();
  const first = view.run('a');
  const second = view.run('b');
  assert.ok(signals.get('a').aborted);
  assert.ok(!signals.get('b').aborted);
  answers.get('b').resolve('new');
  answers.get('a').resolve('old');
  await Promise.all([first, second]);
  assert.deepEqual(drawn, ['pending a', 'pending b', 'b: new']);
});

test('a failure is shown only for the current run; an aborted one fails silently', async () => {
  const { view, answers, failed } = recordingView();
  const first = view.run('a');
  const second = view.run('b');
  answers.get('a').reject(new Error('stale failure'));
  answers.get('b').reject(new Error('current failure'));
  await Promise.all([first, second]);
  assert.deepEqual(failed, ['b: current failure']);
});

test('abort() stops the current run, and aborting a parent signal stops a child run', async () => {
  const { view, answers, drawn, signals } = recordingView();
  const run = view.run('a');
  view.abort();
  answers.get('a').resolve('late');
  await run;
  assert.deepEqual(drawn, ['pending a']);

  const parent = new AbortController();
  const child = view.run('b', parent.signal);
  parent.abort();
  assert.ok(signals.get('b').aborted);
  answers.get('b').resolve('late');
  await child;
  assert.deepEqual(drawn, ['pending a', 'pending b']);
});

test('a run started under an already aborted parent never renders', async () => {
  const { view, answers, drawn } = recordingView();
  const parent = new AbortController();
  parent.abort();
  const run = view.run('a', parent.signal);
  answers.get('a').resolve('x');
  await run;
  assert.deepEqual(drawn, ['pending a']);
});

test('without a fail step, a load error reaches the caller', async () => {
  const view = createView({ load: async () => { throw new Error('no handler'); }, render: () => {} });
  await assert.rejects(view.run(null), /no handler/);
});

test('render gets the run signal, so work it starts can stop with the run', async () => {
  let seen;
  const view = createView({ load: async () => 1, render: (_data, _state, signal) => { seen = signal; } });
  await view.run(null);
  assert.ok(!seen.aborted);
  view.run(null);
  assert.ok(seen.aborted);
});

test('whenCurrent passes answers and errors through until the signal fires, then rejects with its reason', async () => {
  const controller = new AbortController();
  assert.equal(await whenCurrent(controller.signal, Promise.resolve(7)), 7);
  await assert.rejects(whenCurrent(controller.signal, Promise.reject(new Error('boom'))), /boom/);
  const pending = whenCurrent(controller.signal, new Promise(() => {}));
  controller.abort(new Error('gone'));
  await assert.rejects(pending, /gone/);
  await assert.rejects(whenCurrent(controller.signal, Promise.resolve(1)), /gone/);
  assert.equal(await whenCurrent(undefined, Promise.resolve(3)), 3);
});

test('debounce runs once, with the last arguments, after calls stop', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls = [];
  const run = debounce((x) => calls.push(x), 300);
  run(1);
  t.mock.timers.tick(200);
  run(2);
  t.mock.timers.tick(299);
  assert.deepEqual(calls, []);
  t.mock.timers.tick(1);
  assert.deepEqual(calls, [2]);
});
