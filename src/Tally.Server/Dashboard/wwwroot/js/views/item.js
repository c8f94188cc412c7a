// Item page (/items/{id}): its metadata, views against downloads over time, and where it is used
// (countries and institutions), for the selected range. Queries are those that accept item_id.

import { h, replace, icons } from '../dom.js';
import { fmtInt, fmtRange, typeLabel, countryName } from '../format.js';
import { typeColorIndex, seriesColor } from '../colors.js';
import { getJSON, statUrl, invalidate, itemMeta } from '../api.js';
import { readRange, previousRange } from '../state.js';
import { seriesQuery, rankQuery, seriesTypes, metricLabel } from '../discover.js';
import { createControls } from '../controls.js';
import { deltaPill, createTimelinePanel, createRankPanel } from '../widgets.js';
import { errorBox } from '../panels.js';
import { onLive } from '../live.js';
import { createView, whenCurrent } from '../view.js';
import { institutionNames, saveViewHref, rankSwitch, createStatsView, usageTiles, createRangeHint, timelineSeries } from './shared.js';

/** @typedef {import('../discover.js').Stat} Stat */
/** @typedef {import('../state.js').Range} Range */
/** @typedef {import('../widgets.js').Tile} Tile */
/** @typedef {import('../widgets.js').RankPanel} RankPanel */
/** @typedef {import('../router.js').How} How */

/**
 * The page's state, from the URL and the registered queries.
 * @typedef {object} ItemState
 * @property {Stat[]} stats
 * @property {Range} range
 * @property {string[]} types event types with an "over time" query by item
 * @property {string | null} rank the event type the rankings count
 * @property {How} how
 */

const META_FIELDS = [
  ['data_type', 'Data type'],
  ['publisher', 'Publisher'],
  ['yop', 'Year of publication'],
  ['doi', 'DOI'],
  ['parent_id', 'Part of'],
  ['authors', 'Authors'],
  ['publication_date', 'Published'],
  ['isbn', 'ISBN'],
  ['print_issn', 'Print ISSN'],
  ['online_issn', 'Online ISSN'],
  ['uri', 'URI'],
];

/** @param {HTMLElement} root */
export function mount(root) {
  const page = createPage(root, itemIdOf(location.pathname));
  // Ends with the page: the metadata lookup does not outlive it.
  const life = new AbortController();
  showMeta(page, life.signal);
  const series = createSeriesView(page);
  const ranks = [createRankView(page, 'country', page.countries), createRankView(page, 'institution', page.institutions)];
  const view = createStatsView(page.pageError, async (stats, how, signal) => {
    const st = readState(page, stats, how);
    await Promise.all([series.run(st, signal), ...ranks.map((rank) => rank.run(st, signal))]);
  });
  /** @param {How} [how] */
  const update = (how = 'push') => view.run(how);
  const unsubscribe = [onLive('aggregated', () => { invalidate(); update('quiet'); })];

  update('load');
  return {
    update,
    unmount() {
      view.abort();
      life.abort();
      unsubscribe.forEach((f) => f());
      page.timeline.dispose();
      page.countries.dispose();
      page.institutions.dispose();
    },
  };
}

/**
 * The item id in /items/{id}; not valid percent-encoding is shown as typed.
 * @param {string} pathname
 */
function itemIdOf(pathname) {
  const raw = pathname.slice('/items/'.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * @param {HTMLElement} root
 * @param {string} id
 */
function createPage(root, id) {
  const title = h('h1', { tabindex: '-1', dataset: { testid: 'item-title' } }, id);
  const lede = h('p', { class: 'lede' }, 'Usage of one item: views against downloads, and where it is used.');
  const saveLink = h('a', { class: 'btn', href: '/queries', dataset: { testid: 'save-view' } }, icons.bookmark(), 'Save this view');
  const eventsLink = h('a', { class: 'btn', href: `/events?item_id=${encodeURIComponent(id)}&delta=604800` }, 'Raw events');
  const meta = h('dl', { class: 'meta', dataset: { testid: 'item-meta' } });
  const head = h('div', { class: 'page-head' },
    h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '/' }, 'Overview'), ' / Item'), title, lede),
    h('div', { class: 'page-head-actions' }, eventsLink, saveLink));
  const controls = createControls({ testid: 'controls' });
  const tilesEl = h('div', { class: 'tiles', dataset: { testid: 'tiles' } });
  const rangeHint = createRangeHint();
  const timeline = createTimelinePanel({ title: 'Views and downloads', testid: 'item-timeline' });
  const rankHolder = h('div', {});
  const countries = createRankPanel({ title: 'Countries', testid: 'item-countries', chart: true, keyLabel: 'Country' });
  const institutions = createRankPanel({ title: 'Institutions', testid: 'item-institutions', keyLabel: 'Institution' });
  const pageError = h('div', {});
  root.append(head, meta, pageError, controls.el, rangeHint.el, tilesEl, timeline.el,
    h('div', { class: 'section-head' }, h('h2', {}, 'Where it is used'), rankHolder),
    h('div', { class: 'grid-2' }, countries.el, institutions.el));
  return {
    id, title, lede, saveLink, meta, controls, tilesEl, rangeHint, timeline, rankHolder, countries, institutions, pageError,
    /** @type {Map<string, Tile>} */ tiles: new Map(),
    tilesKey: '',
    rankKey: '',
  };
}
/** @typedef {ReturnType<typeof createPage>} Page */

/**
 * The item's metadata as a definition list, and its name as the page's title.
 * @param {Page} page
 * @param {AbortSignal} signal
 */
async function showMeta({ id, title, meta }, signal) {
  let m;
  try {
    m = await whenCurrent(signal, itemMeta(id));
  } catch (e) {
    if (!signal.aborted) replace(meta, errorBox(e));
    return;
  }
  if (!m) {
    replace(meta, h('div', {}, h('dt', {}, 'Item id'), h('dd', { class: 'mono' }, id)), h('div', {}, h('dt', {}, 'Metadata'), h('dd', {}, 'None known yet')));
    return;
  }
  const name = m.name;
  if (name) {
    title.textContent = name;
    document.title = `${name} · Tally`;
  }
  const rows = [h('div', {}, h('dt', {}, 'Item id'), h('dd', { class: 'mono' }, id))];
  for (const [key, label] of META_FIELDS) {
    const value = m[key];
    if (value == null || value === '') continue;
    rows.push(h('div', {}, h('dt', {}, label), h('dd', {}, metaValue(key, value))));
  }
  replace(meta, rows);
}

/**
 * A metadata value; a DOI, a parent item and a web URI as links.
 * @param {string} key
 * @param {unknown} value
 */
function metaValue(key, value) {
  const text = String(value);
  if (key === 'doi') return h('a', { href: `https://doi.org/${text}`, rel: 'external noopener', target: '_blank' }, text);
  if (key === 'parent_id') return h('a', { href: `/items/${encodeURIComponent(text)}` }, text);
  if (key === 'uri' && /^https?:/.test(text)) return h('a', { href: text, rel: 'external noopener', target: '_blank' }, text);
  return text;
}

/**
 * Reads the range and the rank type, and shows what needs no numbers: controls, lede, save link, rank switch.
 * @param {Page} page
 * @param {Stat[]} stats
 * @param {How} how
 * @returns {ItemState}
 */
function readState(page, stats, how) {
  const { id } = page;
  if (document.title === 'Tally' || !document.title.includes('·')) document.title = `${id} · Tally`;
  const params = new URLSearchParams(location.search);
  const range = readRange(params);
  const types = seriesTypes(stats).filter((t) => seriesQuery(stats, t, ['item_id']));
  const rankTypes = types.filter((t) => rankQuery(stats, t, 'country', ['item_id']) || rankQuery(stats, t, 'institution', ['item_id']));
  let rank = params.get('rank');
  if (rank == null || !rankTypes.includes(rank)) rank = rankTypes[0] ?? null;
  page.controls.update({ range });
  replace(page.lede, `Usage of one item, ${fmtRange(range.from, range.to)}: views against downloads, and where it is used.`);
  const main = seriesQuery(stats, types[0], ['item_id']);
  page.saveLink.href = main ? saveViewHref({ stat: main.name, view: 'timeline', chart: 'area', range, extra: { item_id: id }, title: `${typeLabel(main.event_type)} of ${id}` }) : '/queries';
  renderRankSwitch(page, rankTypes, rank);
  return { stats, range, types, rank, how };
}

/**
 * @param {Page} page
 * @param {ItemState} st
 */
function seriesSpecs({ id }, { stats, types, range }) {
  const base = { dateStart: range.from, dateEnd: range.to, interval: range.interval, item_id: id };
  const prev = previousRange(range);
  return types.map((type, i) => {
    const query = /** @type {Stat} */ (seriesQuery(stats, type, ['item_id']));
    return {
      type, query, color: seriesColor(typeColorIndex(type, i)),
      url: statUrl(query.name, 'timeline', base),
      prevUrl: statUrl(query.name, 'timeline', { ...base, dateStart: prev.from, dateEnd: prev.to, interval: 'month' }),
    };
  });
}
/** @typedef {ReturnType<typeof seriesSpecs>[number]} SeriesSpec */
/** @typedef {{date: string, value: number, unique_visitors?: number}} Row */

/**
 * The tiles and the timeline of the item's events.
 * @param {Page} page
 */
function createSeriesView(page) {
  return createView({
    /** @param {ItemState} st */
    pending(st) {
      const specs = seriesSpecs(page, st);
      const key = specs.map((s) => s.type).join(',');
      if (key !== page.tilesKey) {
        page.tilesKey = key;
        page.tiles = usageTiles(specs);
        replace(page.tilesEl, [...page.tiles.values()].map((t) => t.el));
      }
      if (!specs.length || st.how === 'quiet') return;
      page.timeline.loading();
      for (const t of page.tiles.values()) t.loading();
    },
    load: (st, signal) => Promise.all(seriesSpecs(page, st).map(async (s) => {
      /** @type {[Row[], Row[] | null]} */
      const [rows, prevRows] = await Promise.all([getJSON(s.url, signal), getJSON(s.prevUrl, signal).catch(() => null)]);
      return { ...s, rows, prevRows };
    })),
    render: (results, st) => renderSeries(page, st, results),
    fail(e) {
      page.timeline.error(e);
      page.rangeHint.hide();
    },
  });
}

/**
 * @param {Page} page
 * @param {ItemState} st
 * @param {(SeriesSpec & {rows: Row[], prevRows: Row[] | null})[]} results
 */
function renderSeries(page, { range }, results) {
  const { id, tiles, timeline, rangeHint } = page;
  if (!results.length) {
    rangeHint.hide();
    timeline.empty('No registered query filters by item.', 'Add item_id to the group-by fields of an aggregation to see items over time.');
    return;
  }
  if (results.some((s) => s.rows.some((r) => r.value > 0))) rangeHint.hide();
  else rangeHint.show(results.map((s) => s.query.name), range, 'for this item');
  for (const s of results) {
    const values = s.rows.map((r) => r.value);
    const total = values.reduce((a, b) => a + b, 0);
    const before = s.prevRows?.reduce((a, r) => a + r.value, 0) ?? 0;
    tiles.get(`type:${s.type}`)?.set({
      value: total,
      sub: before ? [deltaPill(total, before, range.days), ` vs previous ${range.days} days`] : 'nothing in the previous period',
      spark: values,
    });
  }
  const first = results[0];
  const visitors = first.rows.map((r) => r.unique_visitors ?? 0);
  tiles.get('visitors')?.set({ value: visitors.reduce((a, b) => a + b, 0), sub: `who ${first.type === 'record-view' ? 'viewed it' : typeLabel(first.type).toLowerCase()}, counted per day`, spark: visitors });
  timeline.render({
    dates: first.rows.map((r) => r.date),
    interval: range.interval,
    range,
    kind: range.interval === 'month' ? 'bar' : 'line',
    series: results.map((s) => timelineSeries({ ...s, stat: s.query.name, values: s.rows.map((r) => r.value) }, range, id)),
  });
}

/**
 * @param {Page} page
 * @param {string[]} rankTypes
 * @param {string | null} rank
 */
function renderRankSwitch(page, rankTypes, rank) {
  const key = JSON.stringify([rankTypes, rank]);
  if (key === page.rankKey) return;
  page.rankKey = key;
  if (rankTypes.length < 2) { replace(page.rankHolder); return; }
  replace(page.rankHolder, rankSwitch(rankTypes, /** @type {string} */ (rank), 'item-rank').el);
}

/**
 * Where the item is used: its top countries or institutions for the rank type.
 * @param {Page} page
 * @param {'country' | 'institution'} field
 * @param {RankPanel} panel
 */
function createRankView(page, field, panel) {
  /** @param {ItemState} st */
  const found = ({ stats, rank }) => (rank ? rankQuery(stats, rank, field, ['item_id']) : null);
  return createView({
    /** @param {ItemState} st */
    pending(st) {
      panel.hide(!found(st));
      if (found(st) && st.how !== 'quiet') panel.loading();
    },
    async load(st, signal) {
      const match = found(st);
      if (!match) return null;
      const { range } = st;
      const url = statUrl(match.query.name, 'totals', { dateStart: range.from, dateEnd: range.to, count: 10, groupBy: match.groupBy, item_id: page.id });
      const [answer, names] = await Promise.all([getJSON(url, signal), field === 'institution' ? institutionNames() : null]);
      return { ...match, url, answer, names };
    },
    render(ranked, st) {
      if (ranked) renderRank(page, field, panel, st, ranked);
    },
    fail: (e) => panel.error(e),
  });
}

/**
 * @param {Page} page
 * @param {'country' | 'institution'} field
 * @param {RankPanel} panel
 * @param {ItemState} st
 * @param {{query: Stat, groupBy: string | null, url: string, answer: any, names: Map<string, string> | null}} ranked
 */
function renderRank({ id }, field, panel, { range, rank, types }, { query, groupBy, url, answer, names }) {
  const type = /** @type {string} */ (rank);
  /** @type {{value: number, [field: string]: any}[]} */
  const items = answer.items ?? [];
  const rows = items.map((item) => {
    const key = item[field];
    if (field === 'country') return { key, value: item.value, label: countryName(key), sub: key };
    return { key, value: item.value, label: key ? names?.get(key) ?? key : 'No institution', sub: key && names?.get(key) ? key : null };
  });
  panel.render({
    rows,
    metric: metricLabel(query.metric, type),
    color: seriesColor(typeColorIndex(type, types.indexOf(type))),
    sources: [{ key: query.name, label: `${panel.panel.title.textContent} (${query.name})`, url, filename: `${query.name}${groupBy ? `-by-${groupBy}` : ''}-${id}-${range.from}-${range.to}.csv` }],
    range,
    subtitle: `${typeLabel(type)}, ${fmtRange(range.from, range.to)}${answer.itemsMax > rows.length ? ` · top ${rows.length} of ${fmtInt(answer.itemsMax)}` : ''}`,
  });
}
