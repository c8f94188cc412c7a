// Overview (/): totals per event type, robots filtered out, events over time, and what was used most
// (items, countries, referrers, institutions) for a date range, with live updates.

import { h, replace, icons } from '../dom.js';
import { fmtInt, fmtPct, fmtRange, typeLabel, countryName } from '../format.js';
import { typeColorIndex, seriesColor } from '../colors.js';
import { getJSON, statUrl, invalidate, itemMetas, knownItemName } from '../api.js';
import { readRange, previousRange, readFilters, filterParams, bucketOf, hrefWith, todayUTC } from '../state.js';
import { seriesQuery, rankQuery, seriesTypes, filterFields, metricLabel, fieldLabel } from '../discover.js';
import { createControls } from '../controls.js';
import { deltaPill, createTimelinePanel, createRankPanel } from '../widgets.js';
import { onLive, pendingCounts } from '../live.js';
import { createView } from '../view.js';
import { institutionNames, referrerLabel, saveViewHref, rankSwitch, createStatsView, usageTiles, createRangeHint, timelineSeries } from './shared.js';

/** @typedef {import('../discover.js').Stat} Stat */
/** @typedef {import('../state.js').Range} Range */
/** @typedef {import('../state.js').Filter} Filter */
/** @typedef {import('../widgets.js').Tile} Tile */
/** @typedef {import('../widgets.js').RankPanel} RankPanel */
/** @typedef {import('../widgets.js').RankRow} RankRow */
/** @typedef {import('../live.js').LiveCount} LiveCount */
/** @typedef {import('../router.js').How} How */

const RANK_FIELDS = ['item_id', 'country', 'referrer', 'institution'];

/**
 * The page's state, from the URL and the registered queries.
 * @typedef {object} OverviewState
 * @property {Stat[]} stats
 * @property {URLSearchParams} params
 * @property {Range} range
 * @property {string[]} allTypes event types with an "over time" query
 * @property {string[]} types those shown
 * @property {string[]} fields fields some query filters by
 * @property {Filter[]} filters
 * @property {string[]} active the fields filtered by
 * @property {Record<string, string[]>} fparams the filters as API parameters
 * @property {string | null} rank the event type the rankings count
 * @property {string[]} rankTypes
 */

/**
 * One event type's "over time" series: its query and the URLs of its numbers.
 * @typedef {object} SeriesSpec
 * @property {string} type
 * @property {string} color
 * @property {Stat | null} query
 * @property {string | null} url
 * @property {string | null} prevUrl the previous period, for the change
 * @property {string | null} robotsUrl the same counts with robots, for the share filtered out
 */

/**
 * A series as fetched: values per bucket, before live counts are added.
 * @typedef {object} Series
 * @property {string} type
 * @property {string} stat
 * @property {string} url
 * @property {string} color
 * @property {number[]} base
 * @property {number[]} visitors
 * @property {number[] | null} withRobots
 * @property {number | null} prevTotal
 * @property {string[]} dates
 */

/**
 * What the series view drew last, which live counts are added to.
 * @typedef {{st: OverviewState, series: Series[], dates: string[], failed: Error | null, missing: string[]}} SeriesData
 */

/** @param {HTMLElement} root */
export function mount(root) {
  const page = createPage(root);
  const series = createSeriesView(page);
  /** @type {Map<string, import('../view.js').View<{st: OverviewState, how: How}>>} */
  const ranks = new Map(RANK_FIELDS.map((field) => [field, createRankView(page, field)]));
  const view = createStatsView(page.pageError, async (stats, how, signal) => {
    const st = readState(stats);
    page.st = st;
    renderHead(page, st);
    // The filter control offers the values the rankings show, once they are in.
    const ranked = runRanks(page, ranks, { st, how }, signal).then(() => { if (!signal.aborted) updateControls(page, st); });
    await Promise.all([series.run({ st, how }, signal), ranked]);
  });
  /** @param {How} [how] */
  const update = (how = 'push') => view.run(how);

  const unsubscribe = [
    onLive('stored', () => {
      const { data } = page;
      if (!data || data.st.filters.length) return;
      // A new UTC day began since the range was read: a preset moves on with it, rather than dropping today's events.
      if (data.st.range.today !== todayUTC()) {
        update('quiet');
        return;
      }
      cancelAnimationFrame(page.frame);
      page.frame = requestAnimationFrame(() => draw(page, true));
    }),
    onLive('aggregated', (_info, before) => {
      // Keep showing what was counted live until the refetch answers, then show the API's numbers.
      if (page.data && !page.data.st.filters.length) fold(page.data, before);
      invalidate();
      update('quiet');
    }),
  ];

  update('load');
  return {
    update,
    unmount() {
      view.abort();
      cancelAnimationFrame(page.frame);
      unsubscribe.forEach((f) => f());
      page.timeline.dispose();
      page.panels.forEach((p) => p.dispose());
    },
  };
}

/** @param {HTMLElement} root */
function createPage(root) {
  const lede = h('p', { class: 'lede', dataset: { testid: 'overview-lede' } }, 'Loading…');
  const saveLink = h('a', { class: 'btn', href: '/queries', dataset: { testid: 'save-view' } }, icons.bookmark(), 'Save this view');
  const head = h('div', { class: 'page-head' },
    h('div', {}, h('h1', { tabindex: '-1' }, 'Usage overview'), lede),
    h('div', { class: 'page-head-actions' }, saveLink));
  const controls = createControls({ types: true, filters: true, testid: 'controls' });
  const tilesEl = h('div', { class: 'tiles', dataset: { testid: 'tiles' } });
  const liveNote = h('p', { class: 'live-note', dataset: { testid: 'live-note' } });
  const rangeHint = createRangeHint();
  const timeline = createTimelinePanel({ title: 'Events over time', testid: 'over-time' });
  const rankHolder = h('div', {});
  /** @type {Map<string, RankPanel>} */
  const panels = new Map([
    ['item_id', createRankPanel({ title: 'Top items', testid: 'top-items', keyLabel: 'Item' })],
    ['country', createRankPanel({ title: 'Top countries', testid: 'top-countries', chart: true, keyLabel: 'Country' })],
    ['referrer', createRankPanel({ title: 'Top referrers', testid: 'top-referrers', keyLabel: 'Referrer' })],
    ['institution', createRankPanel({ title: 'Top institutions', testid: 'top-institutions', keyLabel: 'Institution' })],
  ]);
  const rankTitle = h('h2', {}, 'Most used');
  const pageError = h('div', {});
  root.append(head, pageError, controls.el, rangeHint.el, tilesEl, liveNote, timeline.el,
    h('div', { class: 'section-head' }, rankTitle, rankHolder),
    h('div', { class: 'grid-2' }, [...panels.values()].map((p) => p.el)));
  return {
    lede, saveLink, controls, tilesEl, liveNote, rangeHint, timeline, rankHolder, panels, rankTitle, pageError,
    /** @type {OverviewState | null} */ st: null,
    /** @type {SeriesData | null} */ data: null,
    /** @type {Map<string, Tile>} */ tiles: new Map(),
    tilesKey: '',
    rankKey: '',
    frame: 0,
    /** Values the rankings showed, offered by the filter control. @type {Record<string, string[]>} */
    suggestions: {},
  };
}
/** @typedef {ReturnType<typeof createPage>} Page */

/**
 * @param {Stat[]} stats
 * @returns {OverviewState}
 */
function readState(stats) {
  const params = new URLSearchParams(location.search);
  const allTypes = seriesTypes(stats);
  const fields = filterFields(stats);
  const filters = readFilters(params, fields);
  const active = [...new Set(filters.map((f) => f.field))];
  let types = (params.get('types') || '').split(',').filter((t) => allTypes.includes(t));
  if (!types.length) types = allTypes;
  const rankTypes = allTypes.filter((t) => RANK_FIELDS.some((f) => rankQuery(stats, t, f)));
  let rank = params.get('rank');
  if (rank == null || !rankTypes.includes(rank)) rank = rankTypes.find((t) => types.includes(t)) ?? rankTypes[0] ?? null;
  return { stats, params, range: readRange(params), allTypes, types, fields, filters, active, fparams: filterParams(filters), rank, rankTypes };
}

/**
 * What the state shows before any numbers: the lede, the controls, the rank switch, the live note and the save link.
 * @param {Page} page
 * @param {OverviewState} st
 */
function renderHead(page, st) {
  document.title = 'Overview · Tally';
  const { range } = st;
  replace(page.lede, `What people viewed and downloaded, ${fmtRange(range.from, range.to)}. Robots are filtered out, visitors are anonymised, and new events appear live.`);
  updateControls(page, st);
  renderRankSwitch(page, st);
  renderLiveNote(page, st);
  const main = st.types.map((t) => seriesQuery(st.stats, t, st.active)).find(Boolean);
  page.saveLink.href = main ? saveViewHref({ stat: main.name, view: 'timeline', chart: range.interval === 'month' ? 'bar' : 'area', range, filters: st.filters, title: `${typeLabel(main.event_type)} over time` }) : '/queries';
}

/**
 * @param {Page} page
 * @param {OverviewState} st
 */
function updateControls(page, st) {
  page.controls.update({ range: st.range, allTypes: st.allTypes, types: st.types, fields: st.fields, filters: st.filters, suggestions: { ...page.suggestions } });
}

// ---------- totals and the over-time chart ----------

/**
 * @param {OverviewState} st
 * @returns {SeriesSpec[]}
 */
function seriesSpecs({ stats, range, types, active, fparams }) {
  const base = { dateStart: range.from, dateEnd: range.to, interval: range.interval, ...fparams };
  const prev = previousRange(range);
  return types.map((type, i) => {
    const query = seriesQuery(stats, type, active);
    const robots = seriesQuery(stats, type, active, true);
    return {
      type,
      color: seriesColor(typeColorIndex(type, i)),
      query,
      url: query && statUrl(query.name, 'timeline', base),
      prevUrl: query && statUrl(query.name, 'timeline', { ...base, dateStart: prev.from, dateEnd: prev.to, interval: 'month' }),
      robotsUrl: robots && statUrl(robots.name, 'timeline', base),
    };
  });
}

/**
 * The tiles and the timeline: loads each type's series (a type that fails leaves the others standing).
 * @param {Page} page
 */
function createSeriesView(page) {
  return createView({
    /** @param {{st: OverviewState, how: How}} state */
    pending({ st, how }) {
      ensureTiles(page, st, seriesSpecs(st));
      if (how === 'quiet') return;
      page.timeline.loading();
      for (const tile of page.tiles.values()) tile.loading();
    },
    load: ({ st }, signal) => Promise.allSettled(seriesSpecs(st).map((spec) => loadSeries(spec, signal))),
    render: (results, { st }) => renderSeries(page, st, results),
  });
}

/**
 * @param {SeriesSpec} spec
 * @param {AbortSignal} signal
 */
async function loadSeries(spec, signal) {
  if (!spec.query || !spec.url || !spec.prevUrl) return { ...spec, rows: null, prevRows: null, robotRows: null };
  const [rows, prevRows, robotRows] = await Promise.all([
    getJSON(spec.url, signal),
    getJSON(spec.prevUrl, signal).catch(() => null),
    spec.robotsUrl ? getJSON(spec.robotsUrl, signal).catch(() => null) : null,
  ]);
  return { ...spec, rows, prevRows, robotRows };
}

/**
 * @param {Page} page
 * @param {OverviewState} st
 * @param {PromiseSettledResult<Awaited<ReturnType<typeof loadSeries>>>[]} results
 */
function renderSeries(page, st, results) {
  const failed = results.find((r) => r.status === 'rejected');
  /** @type {Series[]} */
  const series = [];
  for (const r of results) {
    if (r.status !== 'fulfilled' || !r.value.rows) continue;
    const s = r.value;
    /** @type {{date: string, value: number, unique_visitors?: number}[]} */
    const rows = s.rows;
    series.push({
      type: s.type,
      stat: /** @type {Stat} */ (s.query).name,
      url: /** @type {string} */ (s.url),
      color: s.color,
      base: rows.map((row) => row.value),
      visitors: rows.map((row) => row.unique_visitors ?? 0),
      withRobots: s.robotRows && s.robotRows.length === rows.length ? s.robotRows.map((/** @type {{value: number}} */ row) => row.value) : null,
      prevTotal: s.prevRows ? s.prevRows.reduce((/** @type {number} */ a, /** @type {{value: number}} */ row) => a + row.value, 0) : null,
      dates: rows.map((row) => row.date),
    });
  }
  if (!series.length) {
    page.data = null;
    page.rangeHint.hide();
    if (failed) page.timeline.error(failed.reason);
    else page.timeline.empty('No event type can be shown with these filters.', `No registered query filters by ${st.active.map(fieldLabel).join(', ')}.`);
    for (const tile of page.tiles.values()) tile.set({ value: null, text: '–', sub: failed ? 'Could not load' : 'Not available with these filters' });
    return;
  }
  const missing = results.flatMap((r) => (r.status === 'fulfilled' && !r.value.query ? [r.value.type] : []));
  page.data = { st, series, dates: series[0].dates, failed: failed?.reason ?? null, missing };
  draw(page, false);
}

/**
 * Live counts since the last aggregation, per type and bucket of the current range and interval.
 * @param {SeriesData} data
 * @returns {Map<string, {events: number, robots: number}>}
 */
function liveAdditions(data) {
  const adds = new Map();
  if (data.st.filters.length) return adds;
  const { from, to, interval } = data.st.range;
  for (const c of pendingCounts()) {
    if (c.date < from || c.date > to) continue;
    const key = `${c.type}|${bucketOf(c.date, interval)}`;
    const entry = adds.get(key) ?? { events: 0, robots: 0 };
    entry.events += c.events;
    entry.robots += c.robots;
    adds.set(key, entry);
  }
  return adds;
}

/**
 * Adds counts that were live into the fetched numbers (they are aggregated now; a refetch follows).
 * @param {SeriesData} data
 * @param {LiveCount[]} counts
 */
function fold(data, counts) {
  const { from, to, interval } = data.st.range;
  for (const c of counts) {
    if (c.date < from || c.date > to) continue;
    const s = data.series.find((x) => x.type === c.type);
    const i = s ? s.dates.indexOf(bucketOf(c.date, interval)) : -1;
    if (!s || i < 0) continue;
    s.base[i] += c.events;
    if (s.withRobots) s.withRobots[i] += c.events + c.robots;
  }
}

/** @param {number[]} values */
const sum = (values) => values.reduce((a, b) => a + b, 0);

/**
 * The fetched series with live counts added.
 * @param {SeriesData} data
 */
function withLiveCounts(data) {
  const adds = liveAdditions(data);
  return data.series.map((s) => {
    const values = s.base.map((v, i) => v + (adds.get(`${s.type}|${s.dates[i]}`)?.events ?? 0));
    const withRobots = s.withRobots?.map((v, i) => {
      const a = adds.get(`${s.type}|${s.dates[i]}`);
      return v + (a ? a.events + a.robots : 0);
    }) ?? null;
    return { ...s, values, withRobots, total: sum(values) };
  });
}
/** @typedef {ReturnType<typeof withLiveCounts>[number]} LiveSeries */

/**
 * Draws the tiles and the timeline: after a load, or (isLive) as live counts arrive.
 * @param {Page} page
 * @param {boolean} isLive
 */
function draw(page, isLive) {
  const { data } = page;
  if (!data) return;
  const series = withLiveCounts(data);
  const { range } = data.st;
  if (series.some((s) => s.total > 0)) page.rangeHint.hide();
  else if (!isLive) page.rangeHint.show(series.map((s) => s.stat), range, data.st.filters.length ? 'with these filters' : null);
  drawTiles(page, data, series);
  const model = {
    dates: data.dates,
    interval: range.interval,
    range,
    kind: range.interval === 'month' ? 'bar' : 'area',
    series: series.map((s) => timelineSeries(s, range)),
  };
  if (isLive) page.timeline.patch(model);
  else page.timeline.render(model);
  if (data.failed) page.timeline.panel.setSub(`Some series could not be loaded: ${data.failed.message}`);
}

/**
 * Tiles: one per type, visitors of the first type, and the robots filtered out.
 * @param {Page} page
 * @param {SeriesData} data
 * @param {LiveSeries[]} series
 */
function drawTiles({ tiles }, data, series) {
  const { range } = data.st;
  for (const s of series) {
    tiles.get(`type:${s.type}`)?.set({
      value: s.total,
      sub: s.prevTotal ? [deltaPill(s.total, s.prevTotal, range.days), ` vs previous ${range.days} days`] : `${fmtInt(sum(s.visitors))} unique visitors`,
      spark: s.values,
      attrs: { stat: s.stat, from: range.from, to: range.to },
    });
  }
  for (const type of data.missing) tiles.get(`type:${type}`)?.set({ value: null, text: '–', sub: 'Not available with these filters' });
  const primary = series[0];
  tiles.get('visitors')?.set({
    value: sum(primary.visitors),
    sub: `who ${primary.type === 'record-view' ? 'viewed records' : typeLabel(primary.type).toLowerCase()}, counted per day`,
    spark: primary.visitors,
  });
  tiles.get('robots')?.set(robotsTile(series));
}

/**
 * The share of events that came from robots, over the types whose counts with robots are known.
 * @param {LiveSeries[]} series
 */
function robotsTile(series) {
  const known = series.flatMap((s) => (s.withRobots ? [{ values: s.values, total: s.total, withRobots: s.withRobots }] : []));
  if (!known.length) return { value: null, text: '–', sub: 'Not available with these filters' };
  const all = sum(known.map((s) => sum(s.withRobots)));
  const people = sum(known.map((s) => s.total));
  const robots = Math.max(0, all - people);
  const share = all ? robots / all : 0;
  return {
    value: share,
    text: fmtPct(share),
    sub: `${fmtInt(robots)} robot events of ${fmtInt(all)} not counted`,
    spark: known[0].withRobots.map((v, i) => v - known[0].values[i]),
    attrs: { robots, all },
  };
}

/**
 * @param {Page} page
 * @param {OverviewState} st
 * @param {SeriesSpec[]} specs
 */
function ensureTiles(page, st, specs) {
  const hasRobots = specs.some((s) => seriesQuery(st.stats, s.type, [], true));
  const keys = [...specs.map((s) => `type:${s.type}`), 'visitors', ...(hasRobots ? ['robots'] : [])];
  const key = keys.join(',');
  if (key === page.tilesKey) return;
  page.tilesKey = key;
  page.tiles = usageTiles(specs, { robots: hasRobots });
  replace(page.tilesEl, [...page.tiles.values()].map((t) => t.el));
}

/**
 * @param {Page} page
 * @param {OverviewState} st
 */
function renderLiveNote({ liveNote }, st) {
  let text = '';
  let state = 'live';
  if (st.filters.length) {
    text = 'Live updates paused while filtered: live counts are not broken down by field. Remove the filters to watch them.';
    state = 'paused';
  } else if (!st.range.includesToday) {
    text = 'This range ends before today, so its numbers do not change live.';
    state = 'past';
  } else {
    text = "Today's numbers update live as events arrive.";
  }
  liveNote.className = `live-note is-${state}`;
  liveNote.dataset.state = state;
  replace(liveNote, text);
}

// ---------- rankings ----------

/**
 * @param {Page} page
 * @param {OverviewState} st
 */
function renderRankSwitch(page, st) {
  const key = JSON.stringify([st.rankTypes, st.rank]);
  if (key === page.rankKey) return;
  page.rankKey = key;
  if (st.rankTypes.length < 2) {
    replace(page.rankHolder);
    page.rankTitle.textContent = st.rank ? `Most used by ${typeLabel(st.rank).toLowerCase()}` : 'Most used';
    return;
  }
  page.rankTitle.textContent = 'Most used';
  replace(page.rankHolder, rankSwitch(st.rankTypes, /** @type {string} */ (st.rank), 'rank').el);
}

/**
 * Runs each ranking whose question a query answers; the others are hidden, or say why they are empty.
 * @param {Page} page
 * @param {Map<string, import('../view.js').View<{st: OverviewState, how: How}>>} ranks
 * @param {{st: OverviewState, how: How}} state
 * @param {AbortSignal} signal
 */
function runRanks(page, ranks, state, signal) {
  const { stats, rank, active } = state.st;
  return Promise.all(RANK_FIELDS.map((field) => {
    const panel = /** @type {RankPanel} */ (page.panels.get(field));
    const view = /** @type {import('../view.js').View<{st: OverviewState, how: How}>} */ (ranks.get(field));
    if (rank && rankQuery(stats, rank, field, active)) return view.run(state, signal);
    view.abort();
    const exists = rank && rankQuery(stats, rank, field);
    panel.hide(!exists);
    if (exists) panel.empty('Not available with these filters', `No registered query ranks ${fieldLabel(field).toLowerCase()} filtered by ${active.map(fieldLabel).join(', ')}.`);
    return undefined;
  }));
}

/**
 * The ranking of one field: top 10 by the rank type's count.
 * @param {Page} page
 * @param {string} field
 */
function createRankView(page, field) {
  const panel = /** @type {RankPanel} */ (page.panels.get(field));
  return createView({
    /** @param {{st: OverviewState, how: How}} state */
    pending({ how }) {
      panel.hide(false);
      if (how !== 'quiet') panel.loading();
    },
    async load({ st }, signal) {
      const { query, groupBy } = /** @type {{query: Stat, groupBy: string | null}} */ (rankQuery(st.stats, /** @type {string} */ (st.rank), field, st.active));
      const { range } = st;
      const url = statUrl(query.name, 'totals', { dateStart: range.from, dateEnd: range.to, count: 10, groupBy, ...st.fparams });
      const [answer, names] = await Promise.all([getJSON(url, signal), field === 'institution' ? institutionNames() : null]);
      return { query, groupBy, url, answer, names };
    },
    render({ query, groupBy, url, answer, names }, { st }, signal) {
      const { range } = st;
      const rank = /** @type {string} */ (st.rank);
      const itemQuery = itemQueryOf(st);
      /** @type {{value: number, [field: string]: any}[]} */
      const items = answer.items ?? [];
      const rows = items.map((item) => rankRow(field, item[field], item.value, names, itemQuery));
      panel.render({
        rows,
        metric: metricLabel(query.metric, rank),
        color: seriesColor(typeColorIndex(rank, st.allTypes.indexOf(rank))),
        sources: [{ key: query.name, label: `${panel.panel.title.textContent} (${query.name})`, url, filename: `${query.name}${groupBy ? `-by-${groupBy}` : ''}-${range.from}-${range.to}.csv` }],
        range,
        subtitle: `${typeLabel(rank)}, ${fmtRange(range.from, range.to)}${answer.itemsMax > rows.length ? ` · top ${rows.length} of ${fmtInt(answer.itemsMax)}` : ''}`,
      });
      if (field === 'item_id') nameItems(panel, rows, signal);
      if (field === 'country' || field === 'institution') page.suggestions[field] = rows.flatMap((r) => (r.key ? [r.key] : []));
    },
    fail: (e) => panel.error(e),
  });
}

/**
 * The range of the overview as an item page's query string, so a click keeps it.
 * @param {OverviewState} st
 */
function itemQueryOf({ range, params }) {
  const rangeParams = range.preset === 'custom' ? { from: range.from, to: range.to } : { range: range.preset === '30d' ? null : range.preset };
  return new URLSearchParams(Object.entries({ ...rangeParams, interval: params.get('interval') }).flatMap(([k, v]) => (v ? [[k, v]] : []))).toString();
}

/**
 * A ranking's row: its label, and a link to the item or a filter by its value.
 * @param {string} field
 * @param {string | null} key
 * @param {number} value
 * @param {Map<string, string> | null} names institution names by id
 * @param {string} itemQuery
 * @returns {RankRow}
 */
function rankRow(field, key, value, names, itemQuery) {
  /** @type {RankRow} */
  const row = { key, value, label: key ?? '—' };
  if (field === 'item_id') {
    row.label = key ?? '';
    row.sub = key;
    row.href = `/items/${encodeURIComponent(key ?? '')}${itemQuery ? `?${itemQuery}` : ''}`;
  } else if (field === 'country') {
    row.label = countryName(key);
    row.sub = key;
    if (key) row.href = hrefWith({ country: key });
  } else if (field === 'referrer') {
    Object.assign(row, referrerLabel(key));
    if (key) row.href = hrefWith({ referrer: key });
  } else if (field === 'institution') {
    row.label = key ? names?.get(key) ?? key : 'No institution';
    row.sub = key && names?.get(key) ? key : null;
    if (key) row.href = hrefWith({ institution: key });
  }
  return row;
}

/**
 * Item names from metadata: one lookup for the rows shown, cached for the session.
 * @param {RankPanel} panel
 * @param {RankRow[]} rows
 * @param {AbortSignal} signal
 */
async function nameItems(panel, rows, signal) {
  const results = await itemMetas(rows.map((r) => r.key ?? ''));
  if (signal.aborted) return;
  /** @type {Map<string, string>} */
  const labels = new Map();
  results.forEach((r, i) => {
    const name = r.status === 'fulfilled' ? knownItemName(r.value) : undefined;
    const key = rows[i].key;
    if (name && key != null) labels.set(key, name);
  });
  panel.relabel(labels);
}
