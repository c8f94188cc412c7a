// Item page (/items/{id}): its metadata, views against downloads over time, and where it is used
// (countries and institutions), for the selected range. Queries are those that accept item_id.

import { h, replace, fmtInt, fmtRange, typeLabel, typeColorIndex, seriesColor, countryName, icons } from '../dom.js';
import { getJSON, statUrl, invalidate, itemMeta } from '../api.js';
import { readRange, previousRange } from '../state.js';
import { seriesQuery, rankQuery, seriesTypes, metricLabel } from '../discover.js';
import { createControls } from '../controls.js';
import { deltaPill, createTimelinePanel, createRankPanel } from '../widgets.js';
import { errorBox } from '../panels.js';
import { onLive } from '../live.js';
import { institutionNames, saveViewHref, rankSwitch, statsForUpdate, usageTiles, createRangeHint } from './shared.js';

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

export function mount(root) {
  const raw = location.pathname.slice('/items/'.length);
  let id;
  try {
    id = decodeURIComponent(raw);
  } catch {
    id = raw; // not valid percent-encoding: show it as typed
  }
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

  let gen = 0;
  let unmounted = false;
  let tiles = new Map();
  let tilesKey = '';
  let rankKey = '';

  itemMeta(id).then((m) => {
    if (unmounted) return;
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
      let dd = String(value);
      if (key === 'doi') dd = h('a', { href: `https://doi.org/${value}`, rel: 'external noopener', target: '_blank' }, value);
      else if (key === 'parent_id') dd = h('a', { href: `/items/${encodeURIComponent(value)}` }, value);
      else if (key === 'uri' && /^https?:/.test(value)) dd = h('a', { href: value, rel: 'external noopener', target: '_blank' }, value);
      rows.push(h('div', {}, h('dt', {}, label), h('dd', {}, dd)));
    }
    replace(meta, rows);
  }).catch((e) => replace(meta, errorBox(e)));

  const unsubscribe = [onLive('aggregated', () => { invalidate(); update('quiet'); })];

  async function update(how = 'push') {
    const mine = ++gen;
    const stats = await statsForUpdate(pageError, () => mine === gen);
    if (!stats) return;
    if (document.title === 'Tally' || !document.title.includes('·')) document.title = `${id} · Tally`;
    const params = new URLSearchParams(location.search);
    const range = readRange(params);
    const types = seriesTypes(stats).filter((t) => seriesQuery(stats, t, ['item_id']));
    const rankTypes = types.filter((t) => rankQuery(stats, t, 'country', ['item_id']) || rankQuery(stats, t, 'institution', ['item_id']));
    let rank = params.get('rank');
    if (!rankTypes.includes(rank)) rank = rankTypes[0] ?? null;
    controls.update({ range });
    replace(lede, `Usage of one item, ${fmtRange(range.from, range.to)}: views against downloads, and where it is used.`);
    const main = seriesQuery(stats, types[0], ['item_id']);
    saveLink.href = main ? saveViewHref({ stat: main.name, view: 'timeline', chart: 'area', range, extra: { item_id: id }, title: `${typeLabel(main.event_type)} of ${id}` }) : '/queries';
    renderRankSwitch(rankTypes, rank);
    await Promise.all([loadSeries(stats, types, range, mine, how), loadRank(stats, rank, range, mine, how, types)]);
  }

  async function loadSeries(stats, types, range, mine, how) {
    const base = { dateStart: range.from, dateEnd: range.to, interval: range.interval, item_id: id };
    const prev = previousRange(range);
    const specs = types.map((type, i) => {
      const query = seriesQuery(stats, type, ['item_id']);
      return {
        type, query, color: seriesColor(typeColorIndex(type, i)),
        url: statUrl(query.name, 'timeline', base),
        prevUrl: statUrl(query.name, 'timeline', { ...base, dateStart: prev.from, dateEnd: prev.to, interval: 'month' }),
      };
    });
    const key = specs.map((s) => s.type).join(',');
    if (key !== tilesKey) {
      tilesKey = key;
      tiles = usageTiles(specs);
      replace(tilesEl, [...tiles.values()].map((t) => t.el));
    }
    if (!specs.length) {
      rangeHint.hide();
      timeline.empty('No registered query filters by item.', 'Add item_id to the group-by fields of an aggregation to see items over time.');
      return;
    }
    if (how !== 'quiet') {
      timeline.loading();
      for (const t of tiles.values()) t.loading();
    }
    let results;
    try {
      results = await Promise.all(specs.map(async (s) => {
        const [rows, prevRows] = await Promise.all([getJSON(s.url), getJSON(s.prevUrl).catch(() => null)]);
        return { ...s, rows, prevRows };
      }));
    } catch (e) {
      if (mine === gen) {
        timeline.error(e);
        rangeHint.hide();
      }
      return;
    }
    if (mine !== gen) return;
    if (results.some((s) => s.rows.some((r) => r.value > 0))) rangeHint.hide();
    else rangeHint.show(results.map((s) => s.query.name), range, 'for this item');
    for (const s of results) {
      const values = s.rows.map((r) => r.value);
      const total = values.reduce((a, b) => a + b, 0);
      const before = s.prevRows?.reduce((a, r) => a + r.value, 0) ?? 0;
      tiles.get(`type:${s.type}`).set({
        value: total,
        sub: before ? [deltaPill(total, before, range.days), ` vs previous ${range.days} days`] : 'nothing in the previous period',
        spark: values,
      });
    }
    const first = results[0];
    const visitors = first.rows.map((r) => r.unique_visitors ?? 0);
    tiles.get('visitors').set({ value: visitors.reduce((a, b) => a + b, 0), sub: `who ${first.type === 'record-view' ? 'viewed it' : typeLabel(first.type).toLowerCase()}, counted per day`, spark: visitors });
    timeline.render({
      dates: first.rows.map((r) => r.date),
      interval: range.interval,
      range,
      kind: range.interval === 'month' ? 'bar' : 'line',
      series: results.map((s) => ({
        id: s.type,
        name: typeLabel(s.type),
        values: s.rows.map((r) => r.value),
        color: s.color,
        source: { key: s.query.name, label: `${typeLabel(s.type)} (${s.query.name})`, url: s.url, filename: `${s.query.name}-${id}-${range.from}-${range.to}.csv` },
      })),
    });
  }

  function renderRankSwitch(rankTypes, rank) {
    const key = JSON.stringify([rankTypes, rank]);
    if (key === rankKey) return;
    rankKey = key;
    if (rankTypes.length < 2) { replace(rankHolder); return; }
    replace(rankHolder, rankSwitch(rankTypes, rank, 'item-rank').el);
  }

  async function loadRank(stats, rank, range, mine, how, types) {
    const jobs = [['country', countries], ['institution', institutions]].map(async ([field, panel]) => {
      const found = rank && rankQuery(stats, rank, field, ['item_id']);
      panel.hide(!found);
      if (!found) return;
      const { query, groupBy } = found;
      const url = statUrl(query.name, 'totals', { dateStart: range.from, dateEnd: range.to, count: 10, groupBy, item_id: id });
      if (how !== 'quiet') panel.loading();
      let answer;
      let names;
      try {
        [answer, names] = await Promise.all([getJSON(url), field === 'institution' ? institutionNames() : null]);
      } catch (e) {
        if (mine === gen) panel.error(e);
        return;
      }
      if (mine !== gen) return;
      const rows = (answer.items ?? []).map((item) => {
        const key = item[field];
        if (field === 'country') return { key, value: item.value, label: countryName(key), sub: key };
        return { key, value: item.value, label: key ? names.get(key) ?? key : 'No institution', sub: key && names.get(key) ? key : null };
      });
      panel.render({
        rows,
        metric: metricLabel(query.metric, rank),
        color: seriesColor(typeColorIndex(rank, types.indexOf(rank))),
        sources: [{ key: query.name, label: `${panel.panel.title.textContent} (${query.name})`, url, filename: `${query.name}${groupBy ? `-by-${groupBy}` : ''}-${id}-${range.from}-${range.to}.csv` }],
        range,
        subtitle: `${typeLabel(rank)}, ${fmtRange(range.from, range.to)}${answer.itemsMax > rows.length ? ` · top ${rows.length} of ${fmtInt(answer.itemsMax)}` : ''}`,
      });
    });
    await Promise.all(jobs);
  }

  update('load');
  return {
    update,
    unmount() {
      gen++;
      unmounted = true;
      unsubscribe.forEach((f) => f());
      timeline.dispose();
      countries.dispose();
      institutions.dispose();
    },
  };
}
