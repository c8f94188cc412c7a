// Overview (/): totals per event type, robots filtered out, events over time, and what was used most
// (items, countries, referrers, institutions) for a date range, with live updates.

import { h, replace, fmtInt, fmtPct, fmtRange, typeLabel, typeColorIndex, seriesColor, countryName, icons } from '../dom.js';
import { getJSON, statUrl, invalidate, itemMetas, knownItemName } from '../api.js';
import { readRange, previousRange, readFilters, filterParams, bucketOf, hrefWith, todayUTC } from '../state.js';
import { seriesQuery, rankQuery, seriesTypes, filterFields, metricLabel, fieldLabel } from '../discover.js';
import { createControls } from '../controls.js';
import { deltaPill, createTimelinePanel, createRankPanel } from '../widgets.js';
import { onLive, pendingCounts } from '../live.js';
import { institutionNames, referrerLabel, saveViewHref, rankSwitch, statsForUpdate, usageTiles, createRangeHint } from './shared.js';

const RANK_FIELDS = ['item_id', 'country', 'referrer', 'institution'];

export function mount(root) {
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
  const panels = {
    item_id: createRankPanel({ title: 'Top items', testid: 'top-items', keyLabel: 'Item' }),
    country: createRankPanel({ title: 'Top countries', testid: 'top-countries', chart: true, keyLabel: 'Country' }),
    referrer: createRankPanel({ title: 'Top referrers', testid: 'top-referrers', keyLabel: 'Referrer' }),
    institution: createRankPanel({ title: 'Top institutions', testid: 'top-institutions', keyLabel: 'Institution' }),
  };
  const rankTitle = h('h2', {}, 'Most used');
  const pageError = h('div', {});
  root.append(head, pageError, controls.el, rangeHint.el, tilesEl, liveNote, timeline.el,
    h('div', { class: 'section-head' }, rankTitle, rankHolder),
    h('div', { class: 'grid-2' }, RANK_FIELDS.map((f) => panels[f].el)));

  let gen = 0;
  let st = null; // the state read from the URL and /api/v1/stats
  let data = null; // {series: [...], dates, st} as fetched
  let tiles = new Map();
  let tilesKey = '';
  let rankKey = '';
  let frame = 0;

  const unsubscribe = [
    onLive('stored', () => {
      if (!data || data.st.filters.length) return;
      // A new UTC day began since the range was read: a preset moves on with it, rather than dropping today's events.
      if (data.st.range.today !== todayUTC()) {
        update('quiet');
        return;
      }
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => draw(true));
    }),
    onLive('aggregated', (info, before) => {
      // Keep showing what was counted live until the refetch answers, then show the API's numbers.
      if (data && !data.st.filters.length) fold(before);
      invalidate();
      update('quiet');
    }),
  ];

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
    if (!rankTypes.includes(rank)) rank = rankTypes.find((t) => types.includes(t)) ?? rankTypes[0] ?? null;
    return { stats, params, range: readRange(params), allTypes, types, fields, filters, active, fparams: filterParams(filters), rank, rankTypes };
  }

  async function update(how = 'push') {
    const mine = ++gen;
    const stats = await statsForUpdate(pageError, () => mine === gen);
    if (!stats) return;
    st = readState(stats);
    document.title = 'Overview · Tally';
    const { range } = st;
    replace(lede, `What people viewed and downloaded, ${fmtRange(range.from, range.to)}. Robots are filtered out, visitors are anonymised, and new events appear live.`);
    controls.update({ range, allTypes: st.allTypes, types: st.types, fields: st.fields, filters: st.filters, suggestions: suggestions() });
    renderRankSwitch();
    renderLiveNote();
    const main = st.types.map((t) => seriesQuery(stats, t, st.active)).find(Boolean);
    saveLink.href = main ? saveViewHref({ stat: main.name, view: 'timeline', chart: range.interval === 'month' ? 'bar' : 'area', range, filters: st.filters, title: `${typeLabel(main.event_type)} over time` }) : '/queries';
    await Promise.all([loadSeries(st, mine, how), loadRanks(st, mine, how)]);
  }

  // ---------- totals and the over-time chart ----------

  async function loadSeries(state, mine, how) {
    const { stats, range, types, active, fparams } = state;
    const base = { dateStart: range.from, dateEnd: range.to, interval: range.interval, ...fparams };
    const prev = previousRange(range);
    const specs = types.map((type, i) => {
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
    ensureTiles(state, specs);
    if (how !== 'quiet') {
      timeline.loading();
      for (const tile of tiles.values()) tile.loading();
    }
    const results = await Promise.allSettled(specs.map(async (spec) => {
      if (!spec.query) return { ...spec, rows: null };
      const [rows, prevRows, robotRows] = await Promise.all([
        getJSON(spec.url),
        getJSON(spec.prevUrl).catch(() => null),
        spec.robotsUrl ? getJSON(spec.robotsUrl).catch(() => null) : null,
      ]);
      return { ...spec, rows, prevRows, robotRows };
    }));
    if (mine !== gen) return;
    const failed = results.find((r) => r.status === 'rejected');
    const series = results.filter((r) => r.status === 'fulfilled' && r.value.rows).map((r) => {
      const s = r.value;
      return {
        type: s.type,
        stat: s.query.name,
        url: s.url,
        color: s.color,
        base: s.rows.map((row) => row.value),
        visitors: s.rows.map((row) => row.unique_visitors ?? 0),
        withRobots: s.robotRows && s.robotRows.length === s.rows.length ? s.robotRows.map((row) => row.value) : null,
        prevTotal: s.prevRows ? s.prevRows.reduce((a, row) => a + row.value, 0) : null,
        dates: s.rows.map((row) => row.date),
      };
    });
    if (!series.length) {
      data = null;
      rangeHint.hide();
      if (failed) timeline.error(failed.reason);
      else timeline.empty('No event type can be shown with these filters.', `No registered query filters by ${st.active.map(fieldLabel).join(', ')}.`);
      for (const tile of tiles.values()) tile.set({ value: null, text: '–', sub: failed ? 'Could not load' : 'Not available with these filters' });
      return;
    }
    data = { st: state, series, dates: series[0].dates, failed: failed?.reason ?? null, missing: specs.filter((s) => !s.query).map((s) => s.type) };
    draw(false);
  }

  /** Live counts since the last aggregation, per type and bucket of the current range and interval. */
  function liveAdditions() {
    const adds = new Map();
    if (!data || data.st.filters.length) return adds;
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

  /** Adds counts that were live into the fetched numbers (they are aggregated now; a refetch follows). */
  function fold(counts) {
    const { from, to, interval } = data.st.range;
    for (const c of counts) {
      if (c.date < from || c.date > to) continue;
      const s = data.series.find((x) => x.type === c.type);
      const i = s ? s.dates.indexOf(bucketOf(c.date, interval)) : -1;
      if (i < 0) continue;
      s.base[i] += c.events;
      if (s.withRobots) s.withRobots[i] += c.events + c.robots;
    }
  }

  function draw(isLive) {
    const adds = liveAdditions();
    const series = data.series.map((s) => {
      const values = s.base.map((v, i) => v + (adds.get(`${s.type}|${s.dates[i]}`)?.events ?? 0));
      const withRobots = s.withRobots?.map((v, i) => {
        const a = adds.get(`${s.type}|${s.dates[i]}`);
        return v + (a ? a.events + a.robots : 0);
      }) ?? null;
      return { ...s, values, withRobots, total: values.reduce((a, b) => a + b, 0) };
    });
    const { range } = data.st;
    if (series.some((s) => s.total > 0)) rangeHint.hide();
    else if (!isLive) rangeHint.show(series.map((s) => s.stat), range, data.st.filters.length ? 'with these filters' : null);
    // Tiles: one per type, visitors of the first type, and the robots filtered out.
    for (const s of series) {
      tiles.get(`type:${s.type}`)?.set({
        value: s.total,
        sub: s.prevTotal ? [deltaPill(s.total, s.prevTotal, range.days), ` vs previous ${range.days} days`] : `${fmtInt(s.visitors.reduce((a, b) => a + b, 0))} unique visitors`,
        spark: s.values,
        attrs: { stat: s.stat, from: range.from, to: range.to },
      });
    }
    for (const type of data.missing) tiles.get(`type:${type}`)?.set({ value: null, text: '–', sub: 'Not available with these filters' });
    const primary = series[0];
    const visitors = primary.visitors.reduce((a, b) => a + b, 0);
    tiles.get('visitors')?.set({
      value: visitors,
      sub: `who ${primary.type === 'record-view' ? 'viewed records' : typeLabel(primary.type).toLowerCase()}, counted per day`,
      spark: primary.visitors,
    });
    const withRobots = series.filter((s) => s.withRobots);
    if (withRobots.length) {
      const all = withRobots.reduce((a, s) => a + s.withRobots.reduce((x, y) => x + y, 0), 0);
      const people = withRobots.reduce((a, s) => a + s.total, 0);
      const robots = Math.max(0, all - people);
      const share = all ? robots / all : 0;
      tiles.get('robots')?.set({
        value: share,
        text: fmtPct(share),
        sub: `${fmtInt(robots)} robot events of ${fmtInt(all)} not counted`,
        spark: withRobots[0].withRobots.map((v, i) => v - withRobots[0].values[i]),
        attrs: { robots, all },
      });
    } else {
      tiles.get('robots')?.set({ value: null, text: '–', sub: 'Not available with these filters' });
    }
    const model = {
      dates: data.dates,
      interval: range.interval,
      range,
      kind: range.interval === 'month' ? 'bar' : 'area',
      series: series.map((s) => ({
        id: s.type,
        name: typeLabel(s.type),
        values: s.values,
        color: s.color,
        source: { key: s.stat, label: `${typeLabel(s.type)} (${s.stat})`, url: s.url, filename: `${s.stat}-${range.from}-${range.to}.csv` },
      })),
    };
    if (isLive) timeline.patch(model);
    else timeline.render(model);
    if (data.failed) timeline.panel.setSub(`Some series could not be loaded: ${data.failed.message}`);
  }

  function ensureTiles(state, specs) {
    const hasRobots = specs.some((s) => seriesQuery(state.stats, s.type, [], true));
    const keys = [...specs.map((s) => `type:${s.type}`), 'visitors', ...(hasRobots ? ['robots'] : [])];
    const key = keys.join(',');
    if (key === tilesKey) return;
    tilesKey = key;
    tiles = usageTiles(specs, { robots: hasRobots });
    replace(tilesEl, [...tiles.values()].map((t) => t.el));
  }

  function renderLiveNote() {
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

  function renderRankSwitch() {
    const key = JSON.stringify([st.rankTypes, st.rank]);
    if (key === rankKey) return;
    rankKey = key;
    if (st.rankTypes.length < 2) {
      replace(rankHolder);
      rankTitle.textContent = st.rank ? `Most used by ${typeLabel(st.rank).toLowerCase()}` : 'Most used';
      return;
    }
    rankTitle.textContent = 'Most used';
    replace(rankHolder, rankSwitch(st.rankTypes, st.rank, 'rank').el);
  }

  async function loadRanks(state, mine, how) {
    const { stats, range, rank, active, fparams } = state;
    const rangeParams = state.range.preset === 'custom' ? { from: range.from, to: range.to } : { range: range.preset === '30d' ? null : range.preset };
    const itemQuery = new URLSearchParams(Object.entries({ ...rangeParams, interval: state.params.get('interval') }).filter(([, v]) => v)).toString();
    await Promise.all(RANK_FIELDS.map(async (field) => {
      const panel = panels[field];
      const found = rank && rankQuery(stats, rank, field, active);
      if (!found) {
        const exists = rank && rankQuery(stats, rank, field);
        panel.hide(!exists);
        if (exists) panel.empty('Not available with these filters', `No registered query ranks ${fieldLabel(field).toLowerCase()} filtered by ${active.map(fieldLabel).join(', ')}.`);
        return;
      }
      panel.hide(false);
      const { query, groupBy } = found;
      const url = statUrl(query.name, 'totals', { dateStart: range.from, dateEnd: range.to, count: 10, groupBy, ...fparams });
      if (how !== 'quiet') panel.loading();
      let answer;
      try {
        answer = await getJSON(url);
      } catch (e) {
        if (mine === gen) panel.error(e);
        return;
      }
      if (mine !== gen) return;
      const names = field === 'institution' ? await institutionNames() : null;
      if (mine !== gen) return;
      const rows = (answer.items ?? []).map((item) => {
        const key = item[field];
        const row = { key, value: item.value, label: key ?? '—' };
        if (field === 'item_id') {
          row.label = key;
          row.sub = key;
          row.href = `/items/${encodeURIComponent(key)}${itemQuery ? `?${itemQuery}` : ''}`;
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
      });
      const sub = `${typeLabel(rank)}, ${fmtRange(range.from, range.to)}${answer.itemsMax > rows.length ? ` · top ${rows.length} of ${fmtInt(answer.itemsMax)}` : ''}`;
      panel.render({
        rows,
        metric: metricLabel(query.metric, rank),
        color: seriesColor(typeColorIndex(rank, state.allTypes.indexOf(rank))),
        sources: [{ key: query.name, label: `${panel.panel.title.textContent} (${query.name})`, url, filename: `${query.name}${groupBy ? `-by-${groupBy}` : ''}-${range.from}-${range.to}.csv` }],
        range,
        subtitle: sub,
      });
      if (field === 'item_id') nameItems(rows, mine);
      if (field === 'country' || field === 'institution') suggestionsFrom[field] = rows.map((r) => r.key).filter(Boolean);
    }));
    if (mine === gen) controls.update({ range: state.range, allTypes: state.allTypes, types: state.types, fields: state.fields, filters: state.filters, suggestions: suggestions() });
  }

  const suggestionsFrom = {};
  function suggestions() {
    return { ...suggestionsFrom };
  }

  /** Item names from metadata: one lookup for the rows shown, cached for the session. */
  async function nameItems(rows, mine) {
    const results = await itemMetas(rows.map((r) => r.key));
    if (mine !== gen) return;
    const labels = new Map();
    results.forEach((r, i) => {
      const name = r.status === 'fulfilled' ? knownItemName(r.value) : undefined;
      if (name) labels.set(rows[i].key, name);
    });
    panels.item_id.relabel(labels);
  }

  update('load');
  return {
    update,
    unmount() {
      gen++;
      cancelAnimationFrame(frame);
      unsubscribe.forEach((f) => f());
      timeline.dispose();
      Object.values(panels).forEach((p) => p.dispose());
    },
  };
}
