// The live feed: one EventSource per tab on /api/v1/live. It keeps, per event type and UTC day, what was
// stored since the last aggregation run ("pending"): aggregated numbers plus pending ones are what a
// view shows. When a run changes metrics, views refetch, and pending starts again from zero (the
// server repeats what arrived during the run, so nothing is counted twice or lost).

const listeners = { stored: new Set(), aggregated: new Set(), status: new Set() };
let pending = new Map(); // "type|date" → {type, date, events, robots}
let source = null;
let status = 'connecting';

function key(type, date) {
  return `${type}|${date}`;
}

function setStatus(next) {
  if (next === status) return;
  status = next;
  for (const fn of listeners.status) fn(status);
}

export function connectLive() {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/v1/live');
  let interrupted = false;
  source.addEventListener('hello', () => {
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
  source.addEventListener('error', () => {
    interrupted = true;
    setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  });
  source.addEventListener('stored', (e) => {
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
  source.addEventListener('aggregated', (e) => {
    const stash = pending;
    pending = new Map();
    const info = safeParse(e.data) ?? {};
    for (const fn of listeners.aggregated) fn(info, [...stash.values()]);
  });
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** What was stored since the last aggregation run: [{type, date, events, robots}]. */
export function pendingCounts() {
  return [...pending.values()];
}

/** Subscribes to 'stored' (counts), 'aggregated' (info, countsBeforeTheRun) or 'status' (state); returns an unsubscribe function. */
export function onLive(event, fn) {
  listeners[event].add(fn);
  return () => listeners[event].delete(fn);
}

/** Wires the header's indicator. */
export function bindIndicator(el) {
  const text = el.querySelector('.live-text');
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
