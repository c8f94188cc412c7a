// Pieces the overview and item pages both need.

import { getJSON, listStats } from '../api.js';
import { filterParams, hrefWith } from '../state.js';
import { h, replace, typeLabel, seriesColor } from '../dom.js';
import { segmented, errorBox } from '../panels.js';
import { navigate } from '../router.js';
import { createTile } from '../widgets.js';

/**
 * The registered queries for a page update, or null when they could not be read (the error is shown in
 * errorSlot) or a newer update has started meanwhile (isCurrent() is false).
 */
export async function statsForUpdate(errorSlot, isCurrent) {
  let stats;
  try {
    stats = await listStats();
  } catch (e) {
    replace(errorSlot, errorBox(e));
    return null;
  }
  if (!isCurrent()) return null;
  replace(errorSlot);
  return stats;
}

const UNIQUE_VISITORS_RULE = 'Unique visitors are counted per day: visitor ids are salted daily and never linked across days (as Plausible does), '
  + "so a range's figure is the sum of its daily unique visitors.";

/** Tiles keyed 'type:TYPE' for each series, 'visitors', and 'robots' when the robot share can be shown. */
export function usageTiles(specs, { robots = false } = {}) {
  const tiles = new Map(specs.map((s) => [`type:${s.type}`, createTile({ testid: `tile-${s.type}`, label: typeLabel(s.type), color: s.color })]));
  tiles.set('visitors', createTile({ testid: 'tile-visitors', label: 'Unique visitors', color: seriesColor(4), note: UNIQUE_VISITORS_RULE }));
  if (robots) tiles.set('robots', createTile({ testid: 'tile-robots', label: 'Robots filtered out', color: seriesColor(2) }));
  return tiles;
}

/**
 * What a page says when its range came back empty: where the data is (the first and last days its queries
 * have data, from /api/v1/stats/{query}/extent), with a link that shows that range. Old logs imported
 * today land far outside the default 30 days, and an empty chart alone would not say so.
 */
export function createRangeHint() {
  const el = h('p', { class: 'range-hint', role: 'status', dataset: { testid: 'range-hint' }, hidden: true });
  let shown = 0;
  return {
    el,
    hide() {
      shown++;
      el.hidden = true;
      replace(el);
    },
    /**
     * Looks up where the data of these queries is; a later hide() or show() wins over a slow answer.
     * `narrowed` says what else limits the page ("for this item"), for when the range already holds all the data.
     */
    async show(queries, range, narrowed = null) {
      const mine = ++shown;
      let extents;
      try {
        extents = await Promise.all(queries.map((q) => getJSON(`/api/v1/stats/${encodeURIComponent(q)}/extent`)));
      } catch {
        extents = null; // the page's panels show what failed; the hint just stays away
      }
      if (mine !== shown || !extents) return;
      const first = extents.map((e) => e.first).filter(Boolean).sort()[0];
      const last = extents.map((e) => e.last).filter(Boolean).sort().at(-1);
      const text = `No data${narrowed ? ` ${narrowed}` : ''} in this range; data runs from ${first} to ${last}`;
      if (!first) replace(el, 'No data yet: events show here once they are stored and aggregated.');
      else if (first >= range.from && last <= range.to) replace(el, `${text}.`);
      else replace(el, `${text} — `, h('a', { href: hrefWith({ range: null, from: first, to: last }), dataset: { testid: 'range-hint-link' } }, 'show that range'));
      el.hidden = false;
    },
  };
}

/** The "Rank by" switch between event types, kept in the URL as rank=TYPE (the first type is the default). */
export function rankSwitch(rankTypes, rank, name) {
  return segmented({
    legend: 'Rank by', name, testid: 'rank', value: rank,
    options: rankTypes.map((t) => ({ value: t, label: typeLabel(t) })),
    onChange: (value) => navigate(hrefWith({ rank: value === rankTypes[0] ? null : value })),
  });
}

let members = null;
/** Institution names by customer id, from the SUSHI members list (one request per session). */
export function institutionNames() {
  members ??= getJSON('/r51/members')
    .then((list) => new Map((Array.isArray(list) ? list : []).map((m) => [m.Customer_ID, m.Institution_Name])))
    .catch(() => new Map());
  return members;
}

/**
 * A referrer for people: its site and page as metrics key it ("google.com/search"), a long path shortened,
 * the whole key as a tooltip. No referrer is direct traffic, or a page of the site itself (referrers.ownHosts).
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
  for (const [name, values] of Object.entries({ ...filterParams(filters), ...extra })) for (const v of [].concat(values)) q.append(`p.${name}`, v);
  return `/queries?${q}`;
}
