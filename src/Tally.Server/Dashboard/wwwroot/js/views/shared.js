// Pieces the overview and item pages both need.

import { getJSON, listStats } from '../api.js';
import { filterParams, hrefWith } from '../state.js';
import { replace, typeLabel, seriesColor } from '../dom.js';
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

/** Tiles keyed 'type:TYPE' for each series, 'visitors', and 'robots' when the robot share can be shown. */
export function usageTiles(specs, { robots = false } = {}) {
  const tiles = new Map(specs.map((s) => [`type:${s.type}`, createTile({ testid: `tile-${s.type}`, label: typeLabel(s.type), color: s.color })]));
  tiles.set('visitors', createTile({ testid: 'tile-visitors', label: 'Unique visitors', color: seriesColor(4) }));
  if (robots) tiles.set('robots', createTile({ testid: 'tile-robots', label: 'Robots filtered out', color: seriesColor(2) }));
  return tiles;
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

/** A referrer URL for people: its host and path, with the whole URL as a tooltip. */
export function referrerLabel(url) {
  if (!url) return { label: 'Direct or unknown', sub: null, title: 'No referrer was sent' };
  try {
    const u = new URL(url);
    const path = u.pathname === '/' ? '' : u.pathname;
    return { label: u.hostname.replace(/^www\./, '') + (path.length > 24 ? `${path.slice(0, 23)}…` : path), sub: null, title: url };
  } catch {
    return { label: url, sub: null, title: url };
  }
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
