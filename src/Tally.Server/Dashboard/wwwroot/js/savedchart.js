// Draws a saved query's result as its chart type (line, area, bar, pie or table). Used by the embed
// page and the saved-queries page's preview. A timeline answers rows per day or month; totals answer
// {itemsMax, items} per group.

import { h } from './dom.js';
import { fmtNum, fmtDay, fmtMonth, countryName } from './format.js';
import { seriesColor } from './colors.js';
import { fieldLabel } from './discover.js';
import { createChart, timelineOption, rankingOption, pieOption } from './charts.js';
import { dataTable } from './panels.js';

const METRIC_KEYS = new Set(['count', 'unique_visitors', 'unique_sessions', 'value', 'date', 'label']);

/** The rows of a result as {keys, labels, values, isDates, interval, field, rows}. */
export function resultSeries(result, def = {}) {
  if (Array.isArray(result)) {
    const monthly = result.length > 0 && result.every((r) => r.date?.endsWith('-01') && !/^\d/.test(r.label ?? '1'));
    return {
      rows: result,
      keys: result.map((r) => r.date),
      values: result.map((r) => r.value),
      isDates: true,
      interval: monthly ? 'month' : 'day',
      label: (d) => (monthly ? fmtMonth(d) : fmtDay(d)),
    };
  }
  const items = result?.items ?? [];
  const field = def.params?.groupBy ? [].concat(def.params.groupBy)[0]
    : Object.keys(items[0] ?? {}).find((k) => !METRIC_KEYS.has(k) && !k.startsWith('sum_') && !k.startsWith('avg_')) ?? 'key';
  const label = (k) => (field === 'country' ? countryName(k) : k === '' || k == null ? '(none)' : String(k));
  return { rows: items, keys: items.map((r) => r[field] ?? ''), values: items.map((r) => r.value), isDates: false, field, label, total: result?.itemsMax };
}

/**
 * Renders into `host` (emptied) and returns {chart, dispose}. options: {name (series name), testid}.
 */
export function renderSaved(host, def, result, { name = 'Value', testid = 'saved-chart' } = {}) {
  const data = resultSeries(result, def);
  host.replaceChildren();
  if (def.chart === 'table' || !data.rows.length) {
    const field = data.field ?? 'key';
    /** @type {import('./panels.js').TableColumn<any>[]} */
    const columns = data.isDates
      ? [{ key: 'date', label: data.interval === 'month' ? 'Month' : 'Date', rowHeader: true, render: (r) => data.label(r.date) }]
      : [{ key: field, label: fieldLabel(field), rowHeader: true, className: 'nowrap', render: (r) => data.label(r[field]) }];
    const metricCols = Object.keys(data.rows[0] ?? { value: 0 }).filter((k) => k !== 'date' && k !== 'label' && k !== data.field);
    const table = dataTable({
      caption: def.title ?? name,
      testid: `${testid}-table`,
      columns: [...columns, ...metricCols.map((k) => ({ key: k, label: k === 'value' ? name : fieldLabel(k), num: true, render: (r) => fmtNum(r[k]) }))],
      rows: data.rows,
    });
    host.append(data.rows.length ? table : h('div', { class: 'empty' }, h('strong', {}, 'No data in this range.')));
    return { chart: null, dispose() {} };
  }
  const el = h('div', { class: 'chart', role: 'img', dataset: { testid }, 'aria-label': `${def.title ?? name}: ${def.chart} chart of ${data.rows.length} ${data.isDates ? (data.interval === 'month' ? 'months' : 'days') : 'groups'}` });
  host.append(el);
  let build;
  let model;
  if (def.chart === 'pie') {
    build = pieOption;
    model = { keys: data.keys, values: data.values, name, label: data.label };
  } else if (!data.isDates && def.chart === 'bar') {
    build = rankingOption;
    model = { keys: data.keys, values: data.values, name, label: data.label };
  } else {
    build = timelineOption;
    model = {
      dates: data.keys,
      interval: data.isDates ? data.interval : 'category',
      label: data.isDates ? undefined : data.label,
      kind: def.chart === 'bar' ? 'bar' : def.chart === 'area' ? 'area' : 'line',
      series: [{ id: 'value', name, data: data.values, color: seriesColor(0) }],
    };
  }
  const chart = createChart(el, build);
  chart.set(model);
  return { chart, dispose: () => chart.dispose() };
}
