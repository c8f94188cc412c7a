// Pieces the overview and item pages both need.

import { getJSON, listStats } from '../api.js';
import { filterParams, hrefWith } from '../state.js';
import { h, replace } from '../dom.js';
import { typeLabel } from '../format.js';
import { seriesColor } from '../colors.js';
import { segmented, errorBox } from '../panels.js';
import { navigate } from '../router.js';
import { createTile } from '../widgets.js';
import { createView, whenCurrent } from '../view.js';

/** @typedef {import('../discover.js').Stat} Stat */
/** @typedef {import('../state.js').Range} Range */
/** @typedef {import('../state.js').Filter} Filter */

/**
 * The page-level view of the overview and item pages: the registered queries, then the page's own
 * render with them. A failure to read them is shown in errorSlot (and cleared by the next success).
 * @template S
 * @param {HTMLElement} errorSlot
 * @param {(stats: Stat[], state: S, signal: AbortSignal) => Promise<void>} render
 */
export function createStatsView(errorSlot, render) {
  return createView({
    /** @param {S} _state @param {AbortSignal} signal @returns {Promise<Stat[]>} */
    load: (_state, signal) => whenCurrent(signal, listStats()),
    render(stats, state, signal) {
      replace(errorSlot);
      return render(stats, state, signal);
    },
    fail: (e) => replace(errorSlot, errorBox(e)),
  });
}

const UNIQUE_VISITORS_RULE = 'Unique visitors are counted per day: visitor ids are salted daily and never linked across days (as Plausible does), '
  + "so a range's figure is the sum of its daily unique visitors.";

/**
 * Tiles keyed 'type:TYPE' for each series, 'visitors', and 'robots' when the robot share can be shown.
 * @param {{type: string, color: string}[]} specs
 * @param {{robots?: boolean}} [options]
 */
export function usageTiles(specs, { robots = false } = {}) {
  const tiles = new Map(specs.map((s) => [`type:${s.type}`, createTile({ testid: `tile-${s.type}`, label: typeLabel(s.type), color: s.color })]));
  tiles.set('visitors', createTile({ testid: 'tile-visitors', label: 'Unique visitors', color: seriesColor(4), note: UNIQUE_VISITORS_RULE }));
  if (robots) tiles.set('robots', createTile({ testid: 'tile-robots', label: 'Robots filtered out', color: seriesColor(2) }));
  return tiles;
}

/**
 * A series of an "over time" chart, with the CSV behind it: STAT[-NARROWED]-FROM-TO.csv.
 * @param {{type: string, stat: string, url: string, color: string, values: number[]}} series
 * @param {{from: string, to: string}} range
 * @param {string} [narrowed] what else limits the numbers (the item id), for the file name
 */
export function timelineSeries({ type, stat, url, color, values }, range, narrowed) {
  const filename = `${[stat, narrowed, range.from, range.to].filter(Boolean).join('-')}.csv`;
  return { id: type, name: typeLabel(type), values, color, source: { key: stat, label: `${typeLabel(type)} (${stat})`, url, filename } };
}

/**
 * What a page says when its range came back empty: where the data is (the first and last days its queries
 * have data, from /api/v1/stats/{query}/extent), with a link that shows that range. Old logs imported
 * today land far outside the default 30 days, and an empty chart alone would not say so.
 */
export function createRangeHint() {
  const el = h('p', { class: 'range-hint', role: 'status', dataset: { testid: 'range-hint' }, hidden: true });
  const view = createView({
    /** @param {{queries: string[], range: Range, narrowed: string | null}} state @param {AbortSignal} signal */
    async load({ queries }, signal) {
      try {
        /** @type {{first?: string | null, last?: string | null}[]} */
        const extents = await Promise.all(queries.map((q) => getJSON(`/api/v1/stats/${encodeURIComponent(q)}/extent`, signal)));
        return extents;
      } catch (e) {
        if (signal.aborted) throw e;
        return null; // the page's panels show what failed; the hint just stays away
      }
    },
    render(extents, { range, narrowed }) {
      if (!extents) return;
      const first = extents.map((e) => e.first).filter((d) => d != null).sort()[0];
      const last = extents.map((e) => e.last).filter((d) => d != null).sort().at(-1);
      const text = `No data${narrowed ? ` ${narrowed}` : ''} in this range; data runs from ${first} to ${last}`;
      if (!first || !last) replace(el, 'No data yet: events show here once they are stored and aggregated.');
      else if (first >= range.from && last <= range.to) replace(el, `${text}.`);
      else replace(el, `${text} — `, h('a', { href: hrefWith({ range: null, from: first, to: last }), dataset: { testid: 'range-hint-link' } }, 'show that range'));
      el.hidden = false;
    },
  });
  return {
    el,
    hide() {
      view.abort();
      el.hidden = true;
      replace(el);
    },
    /**
     * Looks up where the data of these queries is; a later hide() or show() wins over a slow answer.
     * `narrowed` says what else limits the page ("for this item"), for when the range already holds all the data.
     * @param {string[]} queries
     * @param {Range} range
     * @param {string | null} [narrowed]
     */
    show(queries, range, narrowed = null) {
      return view.run({ queries, range, narrowed });
    },
  };
}

/**
 * The "Rank by" switch between event types, kept in the URL as rank=TYPE (the first type is the default).
 * @param {string[]} rankTypes
 * @param {string} rank
 * @param {string} name
 */
export function rankSwitch(rankTypes, rank, name) {
  return segmented({
    legend: 'Rank by', name, testid: 'rank', value: rank,
    options: rankTypes.map((t) => ({ value: t, label: typeLabel(t) })),
    onChange: (value) => navigate(hrefWith({ rank: value === rankTypes[0] ? null : value })),
  });
}

/** @type {Promise<Map<string, string>> | null} */
let members = null;
/**
 * Institution names by customer id, from the SUSHI members list (one request per session).
 * @returns {Promise<Map<string, string>>}
 */
export function institutionNames() {
  members ??= getJSON('/r51/members')
    .then((/** @type {unknown} */ list) => new Map(/** @type {{Customer_ID: string, Institution_Name: string}[]} */ (Array.isArray(list) ? list : []).map((m) => [m.Customer_ID, m.Institution_Name])))
    .catch(() => new Map());
  return members;
}

/**
 * A referrer for people: its site and page as metrics key it ("google.com/search"), a long path shortened,
 * the whole key as a tooltip. No referrer is direct traffic, or a page of the site itself (referrers.ownHosts).
 * @param {string | null} key
 * @returns {{label: string, sub: null, title: string}}
 */
export function referrerLabel(key) {
  if (!key) return { label: 'Direct or own site', sub: null, title: 'No referrer was sent, or it was a page of this site' };
  // A key with a scheme: another scheme than the web's (android-app://…), or a day aggregated before referrers were keyed.
  const u = key.includes('://') && URL.canParse(key) ? new URL(key) : null;
  const page = u ? u.hostname.replace(/^www\./, '') + (u.pathname === '/' ? '' : u.pathname) : key;
  const slash = page.indexOf('/');
  const path = slash < 0 ? '' : page.slice(slash);
  return { label: (slash < 0 ? page : page.slice(0, slash)) + (path.length > 24 ? `${path.slice(0, 23)}…` : path), sub: null, title: key };
}

/**
 * The saved-queries form, pre-filled with a view: /queries?new=1&stat=…&view=…&chart=…&p.PARAM=…
 * A preset of the last N days is saved as days=N, so the saved chart moves with today.
 * @param {{stat: string, view: string, chart: string, range: Range, filters?: Filter[], title?: string, extra?: Record<string, string | string[]>}} view
 */
export function saveViewHref({ stat, view, chart, range, filters = [], title, extra = {} }) {
  const q = new URLSearchParams({ new: '1', stat, view, chart });
  if (title) q.set('title', title);
  if (range.relativeDays) q.set('p.days', String(range.relativeDays));
  else {
    q.set('p.dateStart', range.from);
    q.set('p.dateEnd', range.to);
  }
  if (view === 'timeline') q.set('p.interval', range.interval);
  for (const [name, values] of Object.entries({ ...filterParams(filters), ...extra })) for (const v of [values].flat()) q.append(`p.${name}`, v);
  return `/queries?${q}`;
}
