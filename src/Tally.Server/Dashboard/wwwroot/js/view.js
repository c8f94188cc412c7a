// How a view gets from its state to the page: state → load → render. Each run of a view aborts the one
// before it (its AbortSignal fires, and fetches given the signal stop), so a slow answer to an old
// state never draws over a newer one. No DOM here: views bring their own rendering.

/**
 * What a view does for one state.
 * @template S, D
 * @typedef {object} ViewSteps
 * @property {(state: S) => void} [pending] before loading: show that new numbers are coming
 * @property {(state: S, signal: AbortSignal) => Promise<D>} load fetches what the state needs; fetches take the signal
 * @property {(data: D, state: S, signal: AbortSignal) => void | Promise<void>} render shows the data; may start views of its own with the signal
 * @property {(error: unknown, state: S) => void} [fail] shows a load that failed; without it the error propagates
 */

/**
 * A view's runs: run(state) loads and renders, aborting the run before it; abort() stops the current one.
 * @template S
 * @typedef {object} View
 * @property {(state: S, within?: AbortSignal) => Promise<void>} run `within` is a parent's signal: aborting it aborts this run too
 * @property {() => void} abort
 */

/**
 * @template S, D
 * @param {ViewSteps<S, D>} steps
 * @returns {View<S>}
 */
export function createView({ pending, load, render, fail }) {
  /** @type {AbortController | null} */
  let current = null;
  return {
    async run(state, within) {
      current?.abort();
      const controller = new AbortController();
      current = controller;
      const signal = within ? AbortSignal.any([within, controller.signal]) : controller.signal;
      pending?.(state);
      let data;
      try {
        data = await load(state, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (!fail) throw e;
        fail(e, state);
        return;
      }
      if (signal.aborted) return;
      await render(data, state, signal);
    },
    abort() {
      current?.abort();
      current = null;
    },
  };
}

/**
 * Waits for a promise on behalf of a run: rejects with the abort reason as soon as the signal fires,
 * for work that cannot take a signal itself (an answer shared with other views).
 * @template T
 * @param {AbortSignal | undefined} signal
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
export function whenCurrent(signal, promise) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runs fn once calls have stopped for `ms` (resize and input handlers).
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 * @returns {(...args: A) => void}
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
