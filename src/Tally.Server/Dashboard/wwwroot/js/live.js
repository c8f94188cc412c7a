// The live feed: one EventSource per tab on /api/v1/live. It keeps, per event type and UTC day, what was
// stored since the last aggregation run ("pending"): aggregated numbers plus pending ones are what a
// view shows. When a run changes metrics, views refetch, and pending starts again from zero (the
// server repeats what arrived during the run, so nothing is counted twice or lost).

/**
 * Events of one type stored on one UTC day.
 * @typedef {{type: string, date: string, events: number, robots: number}} LiveCount
 */
/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} LiveStatus */
/**
 * What each live event's listeners are given.
 * @typedef {object} LiveEvents
 * @property {(counts: LiveCount[]) => void} stored
 * @property {(info: {resync?: boolean, [key: string]: unknown}, before: LiveCount[]) => void} aggregated
 * @property {(status: LiveStatus) => void} status
 */

/** @type {{[E in keyof LiveEvents]: Set<LiveEvents[E]>}} */
const listeners = { stored: new Set(), aggregated: new Set(), status: new Set() };
/** @type {Map<string, LiveCount>} "type|date" → counts */
let pending = new Map();
/** @type {EventSource | null} */
let source = null;
/** @type {LiveStatus} */
let status = 'connecting';

/** @param {string} type @param {string} date */
function key(type, date) {
  return `${type}|${date}`;
}

/** @param {LiveStatus} next */
function setStatus(next) {
  if (next === status) return;
  status = next;
  for (const fn of listeners.status) fn(status);
}

export function connectLive() {
  if (source || typeof EventSource === 'undefined') return;
  const stream = new EventSource('/api/v1/live');
  source = stream;
  let interrupted = false;
  stream.addEventListener('hello', () => {
    // 'hello' comes once the server has subscribed this stream to the feed (the connection opens before
    // that), so from here on no stored event is missed.
    setStatus('open');
    // Back after an interruption: whatever happened meanwhile is unknown, so views refetch.
    if (interrupted) {
      interrupted = false;
      pending = new Map();
      for (const fn of listeners.aggregated) fn({ resync: true }, []);
    }
  });
  stream.addEventListener('error', () => {
    interrupted = true;
    setStatus(stream.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  });
  stream.addEventListener('stored', (e) => {
    /** @type {LiveCount[] | undefined} */
    const counts = safeParse(e.data)?.counts;
    if (!Array.isArray(counts)) return;
    for (const c of counts) {
      const k = key(c.type, c.date);
      const entry = pending.get(k) ?? { type: c.type, date: c.date, events: 0, robots: 0 };
      entry.events += c.events || 0;
      entry.robots += c.robots || 0;
      pending.set(k, entry);
    }
    for (const fn of listeners.stored) fn(counts);
  });
  stream.addEventListener('aggregated', (e) => {
    const stash = pending;
    pending = new Map();
    const info = safeParse(e.data) ?? {};
    for (const fn of listeners.aggregated) fn(info, [...stash.values()]);
  });
}

/**
 * @param {string} text
 * @returns {any}
 */
function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * What was stored since the last aggregation run.
 * @returns {LiveCount[]}
 */
export function pendingCounts() {
  return [...pending.values()];
}

/**
 * Subscribes to 'stored' (counts), 'aggregated' (info, countsBeforeTheRun) or 'status' (state).
 * @template {keyof LiveEvents} E
 * @param {E} event
 * @param {LiveEvents[E]} fn
 * @returns {() => void} unsubscribes
 */
export function onLive(event, fn) {
  /** @type {Set<LiveEvents[E]>} */ (listeners[event]).add(fn);
  return () => { /** @type {Set<LiveEvents[E]>} */ (listeners[event]).delete(fn); };
}

/**
 * Wires the header's indicator.
 * @param {HTMLElement} el
 */
export function bindIndicator(el) {
  const text = /** @type {HTMLElement} */ (el.querySelector('.live-text'));
  const labels = { connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline' };
  const titles = {
    connecting: 'Connecting to live updates',
    open: 'Live: new events appear as they arrive',
    reconnecting: 'Live updates interrupted; reconnecting',
    closed: 'Live updates are off',
  };
  const render = (state) => {
    el.dataset.state = state;
    text.textContent = labels[state];
    el.title = titles[state];
  };
  onLive('status', render);
  render(status);
}
