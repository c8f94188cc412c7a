// Widgets the overview and item pages share: number tiles with sparklines, the "over time" chart
// panel, and ranking panels (tables with bars, or a bar chart with its table).

import { h, s, replace } from './dom.js';
import { fmtInt, fmtNum, fmtDay, fmtMonth, fmtRange } from './format.js';
import { createPanel, exportTools, dataTable, barCell } from './panels.js';
import { createChart, timelineOption, rankingOption } from './charts.js';
import { navigate } from './router.js';
import { slug } from './api.js';

/** @typedef {ReturnType<typeof createTile>} Tile */
/** @typedef {ReturnType<typeof createRankPanel>} RankPanel */
/** @typedef {ReturnType<typeof createTimelinePanel>} TimelinePanel */
/** @typedef {import('./charts.js').Chart} Chart */
/**
 * A row of a ranking: the key it counts (an item id, a country code…), a label and optional sub-line,
 * tooltip and link.
 * @typedef {{key: string | null, value: number, label: string, sub?: string | null, title?: string | null, href?: string}} RankRow
 */
/**
 * A chart of series over time (see createTimelinePanel).
 * @typedef {object} TimelineModel
 * @property {string[]} dates
 * @property {string} interval
 * @property {{from: string, to: string}} range
 * @property {string} kind line, area or bar
 * @property {(n: number) => string} [format]
 * @property {{id: string, name: string, values: number[], color: string, source?: import('./panels.js').ExportSource}[]} series
 */
/**
 * A ranking (see createRankPanel).
 * @typedef {{rows: RankRow[], metric: string, color: string, sources: import('./panels.js').ExportSource[], range: {from: string, to: string}, subtitle?: string}} RankModel
 */
/**
 * What a tile shows: a number (or text), a line under it, a sparkline and data attributes for tests.
 * @typedef {{value: number | null, text?: string, sub?: import('./dom.js').Child, spark?: number[], title?: string, attrs?: Record<string, string | number>}} TileContent
 */

// ---------- tiles ----------

/**
 * A sparkline as inline SVG (no chart instance for a 36-pixel line).
 * @param {number[]} values
 * @param {string} color
 */
export function sparkline(values, color) {
  const n = values.length;
  if (n < 2) return s('svg', { viewBox: '0 0 100 36', 'aria-hidden': 'true' });
  const max = Math.max(...values, 1);
  const points = values.map((v, i) => [(i / (n - 1)) * 100, 34 - (v / max) * 30]);
  const line = points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(2)},${y.toFixed(2)}`).join('');
  // Colours through style, where var(--c1) works (presentation attributes do not take var()).
  return s('svg', { viewBox: '0 0 100 36', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: `${line}L100,36L0,36Z`, style: `fill: ${color}; fill-opacity: 0.12; stroke: none` }),
    s('path', { d: line, style: `fill: none; stroke: ${color}; stroke-width: 1.8; stroke-linejoin: round`, 'vector-effect': 'non-scaling-stroke' }));
}

/**
 * A headline number, with an optional note on how it is counted. set({value, text, sub, spark, color}) updates it in place.
 * @param {{testid: string, label: string, color: string, note?: string | null}} options
 */
export function createTile({ testid, label, color, note = null }) {
  const valueEl = h('p', { class: 'tile-value', dataset: { testid: `${testid}-value` } }, h('span', { class: 'skeleton skeleton-value', style: { display: 'block' } }));
  const liveDot = h('span', { class: 'tile-live', 'aria-hidden': 'true', title: 'Updated live' });
  const labelEl = h('p', { class: 'tile-label' }, label, liveDot);
  const subEl = h('p', { class: 'tile-sub', dataset: { testid: `${testid}-sub` } });
  const sparkEl = h('div', { class: 'tile-spark' });
  const noteEl = note && h('details', { class: 'tile-note', dataset: { testid: `${testid}-note` } }, h('summary', {}, 'How is this counted?'), h('p', {}, note));
  const el = h('div', { class: 'tile', dataset: { testid }, role: 'group', 'aria-label': label }, labelEl, valueEl, subEl, sparkEl, noteEl);
  if (color) el.style.setProperty('--tile-color', color);
  /** @type {number | null} */
  let last = null;
  return {
    el,
    /** @param {TileContent} content */
    set({ value, text, sub, spark, title, attrs = {} }) {
      el.classList.remove('stale');
      const display = text ?? fmtInt(value);
      if (valueEl.textContent !== display) {
        const grew = last != null && value != null && value > last;
        replace(valueEl, display);
        // A live increase: the dot by the label pulses (no layout change, nothing moves).
        if (grew && !matchMedia('(prefers-reduced-motion: reduce)').matches) {
          liveDot.animate([{ opacity: 1, transform: 'scale(1.8)' }, { opacity: 0, transform: 'scale(1)' }], { duration: 1200, easing: 'ease-out' });
        }
      }
      last = value;
      valueEl.dataset.value = String(value);
      for (const [k, v] of Object.entries(attrs)) valueEl.dataset[k] = String(v);
      if (sub !== undefined) replace(subEl, sub ?? '');
      if (spark) replace(sparkEl, sparkline(spark, color));
      el.title = title ?? note ?? '';
    },
    /** @param {string} next */
    setColor(next) {
      color = next;
      el.style.setProperty('--tile-color', next);
    },
    /** Before new numbers: the old ones dimmed (no jump), or a skeleton the first time. */
    loading() {
      if (valueEl.dataset.value !== undefined) {
        el.classList.add('stale');
        return;
      }
      replace(valueEl, h('span', { class: 'skeleton skeleton-value', style: { display: 'block' } }));
    },
  };
}

/**
 * "▲ 12.5% vs previous 30 days" as a coloured pill, or nothing when there is nothing to compare with.
 * @param {number} now
 * @param {number} before
 * @param {number} days
 */
export function deltaPill(now, before, days) {
  if (!before) return null;
  const change = (now - before) / before;
  const dir = Math.abs(change) < 0.005 ? 'flat' : change > 0 ? 'up' : 'down';
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '●';
  return h('span', { class: `delta ${dir}`, title: `${fmtInt(before)} in the previous ${days} days` },
    h('span', { 'aria-hidden': 'true' }, arrow), `${Math.abs(change * 100).toFixed(1)}%`,
    h('span', { class: 'visually-hidden' }, dir === 'down' ? ' fewer' : ' more'));
}

// ---------- over-time panel ----------

/**
 * The chart of one or more series over time, with its exports and data table.
 * render(model) where model = {dates, interval, range: {from, to}, kind, series: [{id, name, values, color, source}]}
 * (source: {key, label, url, filename} for the CSV); patch(model) for live changes of values only.
 */
/** @param {{title: string, testid: string}} options */
export function createTimelinePanel({ title, testid }) {
  const panel = createPanel({ title, testid, foot: true });
  const chartEl = h('div', { class: 'chart', role: 'img', dataset: { testid: `${testid}-chart` } });
  const chart = panelChart(panel, chartEl, timelineOption);

  /** @param {TimelineModel} m */
  const toData = (m) => ({ dates: m.dates, interval: m.interval, kind: m.kind, format: m.format, series: m.series.map((x) => ({ id: x.id, name: x.name, data: x.values, color: x.color })) });

  /** @param {TimelineModel} m */
  function describe(m) {
    const per = m.interval === 'month' ? 'per month' : 'per day';
    const totals = m.series.map((x) => `${x.name} ${fmtInt(x.values.reduce((a, b) => a + b, 0))}`).join(', ');
    chartEl.setAttribute('aria-label', `${title}: ${m.series.map((x) => x.name).join(' and ')} ${per}, ${fmtRange(m.range.from, m.range.to)}. Totals: ${totals}. The data table below lists every value.`);
    panel.setSub(`${m.interval === 'month' ? 'Per month' : 'Per day'}, ${fmtRange(m.range.from, m.range.to)}`);
  }

  /** @param {TimelineModel} m */
  function table(m) {
    return () => dataTable({
      caption: `${title}, ${m.interval === 'month' ? 'per month' : 'per day'}`,
      testid: `${testid}-table`,
      columns: [
        { key: 'date', label: m.interval === 'month' ? 'Month' : 'Date', rowHeader: true, render: (r) => (m.interval === 'month' ? fmtMonth(r.date) : fmtDay(r.date)) },
        ...m.series.map((x, i) => ({ key: x.id, label: x.name, num: true, render: (r) => fmtNum(r.values[i]) })),
      ],
      rows: m.dates.map((date, d) => ({ date, values: m.series.map((x) => x.values[d]) })),
    });
  }

  return {
    panel,
    el: panel.el,
    get chart() { return chart.current; },
    loading() {
      if (chart.current) panel.body.classList.add('stale');
      else panel.loading('chart');
    },
    /** @param {unknown} e */
    error(e) { chart.error(e); },
    /** @param {string} message @param {string} [detail] */
    empty(message, detail) { chart.empty(message, detail); },
    /** @param {TimelineModel} m */
    render(m) {
      panel.body.classList.remove('stale');
      chart.ensure().set(toData(m));
      describe(m);
      panel.setTools(...exportTools({
        label: title, testid, sources: m.series.flatMap((x) => (x.source ? [x.source] : [])), chart: () => chart.current,
        base: `${slug(title)}-${m.range.from}-${m.range.to}`,
      }));
      panel.setTable(table(m));
    },
    /** @param {TimelineModel} m */
    patch(m) {
      if (!chart.current) return;
      chart.current.patch(toData(m), { series: m.series.map((x) => ({ id: x.id, data: x.values })) });
      describe(m);
      panel.setTable(table(m));
    },
    dispose: chart.dispose,
  };
}

// ---------- a panel's chart ----------

/**
 * A panel's chart: made on first use, and dropped (with the panel's tools and table) for an error or empty state.
 * @param {import('./panels.js').Panel} panel
 * @param {HTMLElement} chartEl
 * @param {import('./charts.js').OptionBuilder} option
 * @param {(chart: Chart) => void} [onCreate]
 */
function panelChart(panel, chartEl, option, onCreate) {
  /** @type {Chart | null} */
  let chart = null;
  const dispose = () => {
    chart?.dispose();
    chart = null;
  };
  return {
    get current() { return chart; },
    ensure() {
      if (!chart) {
        panel.show(chartEl);
        chart = createChart(chartEl, option);
        onCreate?.(chart);
      }
      return chart;
    },
    dispose,
    /** @param {unknown} e */
    error(e) { dispose(); panel.setTools(); panel.setTable(null); panel.error(e); },
    /** @param {string} message @param {string} [detail] */
    empty(message, detail) { dispose(); panel.setTools(); panel.setTable(null); panel.empty(message, detail); },
  };
}

// ---------- ranking panels ----------

/**
 * Top N of a field: a table with bars, or (chart: true) a bar chart with the table as its alternative.
 * render({rows: [{key, label, sub, href, value}], metric, color, sources, range}).
 */
/**
 * @param {{title: string, testid: string, chart?: boolean, keyLabel?: string, emptyText?: string}} options
 */
export function createRankPanel({ title, testid, chart: asChart = false, keyLabel = 'Name', emptyText = 'Nothing in this range.' }) {
  const panel = createPanel({ title, testid, foot: asChart });
  const chartEl = h('div', { class: 'chart short', role: 'img', dataset: { testid: `${testid}-chart` } });
  /** @type {Map<string | null, RankRow>} */
  let rowsByKey = new Map();
  const chart = panelChart(panel, chartEl, rankingOption, (created) => created.instance.on('click', (p) => {
    const row = rowsByKey.get(/** @type {string} */ (p.name));
    if (row?.href) navigate(row.href);
  }));

  /** @param {RankModel} m */
  function rankTable(m) {
    const max = Math.max(0, ...m.rows.map((r) => r.value));
    return dataTable({
      caption: title,
      testid: `${testid}-table`,
      rowAttrs: (r) => ({ dataset: { key: r.key ?? '', value: r.value } }),
      columns: [
        { key: 'rank', label: '#', className: 'rank', render: (r, i) => String(i + 1) },
        {
          key: 'key', label: keyLabel, rowHeader: true,
          render: (r) => h('div', { class: 'cell-title' },
            r.href ? h('a', { href: r.href, title: r.title ?? null }, r.label) : h('span', { class: 'name', title: r.title ?? null }, r.label),
            r.sub ? h('small', {}, r.sub) : null),
        },
        { key: 'value', label: m.metric, num: true, className: 'bar-cell', render: (r) => barCell(r.value, max, m.color) },
      ],
      rows: m.rows,
    });
  }

  return {
    panel,
    el: panel.el,
    get chart() { return chart.current; },
    loading() {
      if (panel.body.firstChild && !panel.body.querySelector('.skeleton-rows, .empty, .error-box')) panel.body.classList.add('stale');
      else panel.loading();
    },
    error: chart.error,
    empty: chart.empty,
    /** @param {boolean} hidden */
    hide(hidden) { panel.el.hidden = hidden; },
    /** @param {RankModel} m */
    render(m) {
      panel.body.classList.remove('stale');
      panel.setSub(m.subtitle ?? '');
      rowsByKey = new Map(m.rows.map((r) => [r.key, r]));
      panel.setTools(...exportTools({
        label: title, testid, sources: m.sources, chart: asChart ? () => chart.current : null,
        base: `${slug(title)}-${m.range.from}-${m.range.to}`,
      }));
      if (!m.rows.length) {
        chart.dispose();
        panel.setTable(null);
        panel.empty(emptyText);
        return;
      }
      if (!asChart) {
        panel.show(rankTable(m));
        return;
      }
      const drawn = chart.ensure();
      chartEl.style.height = `${Math.max(160, m.rows.length * 30 + 16)}px`;
      drawn.instance.resize();
      const labels = new Map(m.rows.map((r) => [r.key, r.label]));
      drawn.set({ keys: m.rows.map((r) => r.key), values: m.rows.map((r) => r.value), name: m.metric, color: m.color, label: (k) => labels.get(k) ?? k, clickable: m.rows.some((r) => r.href) });
      chartEl.setAttribute('aria-label', `${title}: ${m.rows.slice(0, 5).map((r) => `${r.label} ${fmtInt(r.value)}`).join(', ')}${m.rows.length > 5 ? ', …' : ''}. The data table below lists all.`);
      panel.setTable(() => rankTable(m));
    },
    /**
     * Replaces labels once names are known (item metadata), without redrawing the rest.
     * @param {Map<string, string>} labels
     */
    relabel(labels) {
      for (const [key, label] of labels) {
        const row = rowsByKey.get(key);
        if (row) row.label = label;
      }
      for (const tr of panel.body.querySelectorAll('tbody tr')) {
        const label = labels.get(/** @type {HTMLElement} */ (tr).dataset.key ?? '');
        const target = tr.querySelector('.cell-title a, .cell-title .name');
        if (label && target) target.textContent = label;
      }
    },
    dispose: chart.dispose,
  };
}
