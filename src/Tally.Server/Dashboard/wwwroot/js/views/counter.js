// COUNTER page (/counter?month=YYYY-MM[&end=YYYY-MM]&customer_id=…): the monthly metric types of the
// Platform Report for an institution, and links to every SUSHI report for the same months.

import { h, replace, uid } from '../dom.js';
import { fmtInt, fmtMonth, fmtMonthShort } from '../format.js';
import { getJSON, buildUrl, invalidate } from '../api.js';
import { createPanel, exportTools, dataTable } from '../panels.js';
import { isMonth, addMonths, monthsBetween, todayUTC, monthOf, hrefWith } from '../state.js';
import { navigate } from '../router.js';
import { onLive } from '../live.js';
import { createView } from '../view.js';

/** @typedef {import('../panels.js').Panel} Panel */
/** @typedef {import('../router.js').How} How */
/** @typedef {{Report_ID: string, Report_Name: string, Report_Description?: string, Path: string, First_Month_Available: string, Last_Month_Available: string}} ReportInfo */
/** @typedef {{Customer_ID: string, Institution_Name: string}} Member */
/**
 * The months and institution a page shows.
 * @typedef {object} Period
 * @property {string[]} months every month with reports, newest first
 * @property {string} begin YYYY-MM
 * @property {string} end YYYY-MM
 * @property {Member[]} customers
 * @property {string} customer
 * @property {string} institution the customer's name
 * @property {string} label the months for people
 */

export const METRIC_TYPES = [
  ['Total_Item_Investigations', 'Every view or download of an item'],
  ['Unique_Item_Investigations', 'Items investigated, once per session'],
  ['Unique_Title_Investigations', 'Books investigated, once per session'],
  ['Total_Item_Requests', 'Every download of full content'],
  ['Unique_Item_Requests', 'Items requested, once per session'],
  ['Unique_Title_Requests', 'Books requested, once per session'],
  ['No_License', 'Refused: no licence'],
  ['Limit_Exceeded', 'Refused: too many users'],
  ['Searches_Platform', 'Searches on the platform'],
];
const EVERYONE = '0000000000000000';

/** Sums a COUNTER report's Performance by metric type and month, over every item and attribute. */
export function metricTable(report) {
  const sums = new Map();
  for (const item of report?.Report_Items ?? []) {
    for (const perf of item.Attribute_Performance ?? []) {
      for (const [metric, months] of Object.entries(perf.Performance ?? {})) {
        const row = sums.get(metric) ?? new Map();
        for (const [month, n] of Object.entries(months)) row.set(month, (row.get(month) ?? 0) + n);
        sums.set(metric, row);
      }
    }
  }
  return sums;
}

export function mount(root) {
  document.title = 'COUNTER · Tally';
  const monthId = uid('month');
  const endId = uid('end');
  const customerId = uid('customer');
  const monthSelect = h('select', { class: 'select', id: monthId, dataset: { testid: 'counter-month' } });
  const endSelect = h('select', { class: 'select', id: endId, dataset: { testid: 'counter-end' } });
  const customerSelect = h('select', { class: 'select', id: customerId, dataset: { testid: 'counter-customer' } });
  const controlError = h('p', { class: 'field-error', role: 'alert' });
  monthSelect.addEventListener('change', () => {
    const end = endSelect.value && endSelect.value > monthSelect.value ? endSelect.value : null;
    navigate(hrefWith({ month: monthSelect.value, end }));
  });
  endSelect.addEventListener('change', () => {
    let begin = monthSelect.value;
    let end = endSelect.value;
    if (end < begin) [begin, end] = [end, begin];
    navigate(hrefWith({ month: begin, end: end === begin ? null : end }));
  });
  customerSelect.addEventListener('change', () => navigate(hrefWith({ customer_id: customerSelect.value === EVERYONE ? null : customerSelect.value })));

  const controls = h('form', { class: 'controls', 'aria-label': 'Report period and institution', dataset: { testid: 'counter-controls' } },
    h('div', { class: 'field' }, h('label', { for: monthId }, 'From month'), monthSelect),
    h('div', { class: 'field' }, h('label', { for: endId }, 'To month'), endSelect),
    h('div', { class: 'field' }, h('label', { for: customerId }, 'Institution'), customerSelect),
    controlError);
  controls.addEventListener('submit', (e) => e.preventDefault());

  const metrics = createPanel({ title: 'Usage by COUNTER metric type', testid: 'counter-metrics' });
  const reports = createPanel({ title: 'SUSHI reports', testid: 'counter-reports' });
  root.append(
    h('div', { class: 'page-head' }, h('div', {},
      h('h1', { tabindex: '-1' }, 'COUNTER reports'),
      h('p', { class: 'lede' }, 'COUNTER is the standard that makes usage of scholarly content comparable between publishers; libraries harvest these R5.1 reports over the SUSHI API. Tally computes them from the same events as the dashboard.'))),
    controls, metrics.el, reports.el);

  const report = createReportView(metrics);
  const view = createView({
    /** @param {How} _how @param {AbortSignal} signal */
    load: (_how, signal) => Promise.all([getJSON('/r51/reports', signal), getJSON('/r51/members', signal).catch(() => [])]),
    render([list, members], how, signal) {
      const pr = list.find((/** @type {ReportInfo} */ r) => r.Report_ID === 'PR') ?? list[0];
      if (!pr) {
        metrics.empty('No COUNTER reports are configured.');
        reports.empty('No COUNTER reports are configured.');
        return;
      }
      const period = readPeriod(pr, members);
      fillControls(period);
      renderReports(list, period);
      const { customer, begin, end, label, institution } = period;
      const url = buildUrl(`/r51/reports/${pr.Path.split('/').pop()}`, { customer_id: customer, begin_date: begin, end_date: end });
      metrics.setSub(`${institution}, ${label}. From the Platform Report, summed over data types and access methods.`);
      metrics.setTools(...exportTools({
        label: `COUNTER metric types, ${label}`, testid: 'counter-metrics',
        sources: [{ key: 'pr', label: 'Platform Report', url, filename: `pr-${customer}-${begin}-${end}.csv` }],
      }));
      return report.run({ url, period, how }, signal);
    },
    fail: (e) => metrics.error(e),
  });
  /** @param {How} [how] */
  const update = (how = 'push') => view.run(how);
  const unsubscribe = onLive('aggregated', () => { invalidate('/r51/reports'); update('quiet'); });

  /** @param {Period} period */
  function fillControls({ months, begin, end, customers, customer }) {
    const options = months.map((m) => [m, fmtMonth(m)]);
    fillSelect(monthSelect, options, begin);
    fillSelect(endSelect, options, end);
    fillSelect(customerSelect, customers.map((m) => [m.Customer_ID, m.Customer_ID === EVERYONE ? `Everyone (${m.Institution_Name})` : m.Institution_Name]), customer);
  }

  /**
   * @param {ReportInfo[]} list
   * @param {Period} period
   */
  function renderReports(list, { customer, begin, end, label }) {
    reports.setSub(`Every report Tally serves, for ${label}. JSON is COUNTER's SUSHI format; TSV is the tabular form for spreadsheets.`);
    const query = { customer_id: customer, begin_date: begin, end_date: end };
    reports.show(dataTable({
      caption: 'SUSHI reports',
      testid: 'sushi-reports',
      columns: [
        { key: 'id', label: 'Report', rowHeader: true, render: (r) => h('div', { class: 'cell-title' }, h('span', { class: 'name' }, r.Report_Name), h('small', {}, r.Report_ID)) },
        { key: 'desc', label: 'What it shows', render: (r) => r.Report_Description ?? '' },
        {
          key: 'links', label: 'Download', render: (r) => {
            const path = r.Path ?? `/r51/reports/${r.Report_ID.toLowerCase()}`;
            const id = r.Report_ID.toLowerCase();
            return h('span', { class: 'panel-tools' },
              h('a', { class: 'btn btn-sm', href: buildUrl(path, query), target: '_blank', rel: 'noopener', dataset: { testid: `sushi-json-${id}` }, 'aria-label': `${r.Report_Name} (${r.Report_ID}) as COUNTER JSON` }, 'JSON'),
              h('a', { class: 'btn btn-sm', href: buildUrl(path, { ...query, format: 'tsv' }), target: '_blank', rel: 'noopener', dataset: { testid: `sushi-tsv-${id}` }, 'aria-label': `${r.Report_Name} (${r.Report_ID}) as TSV` }, 'TSV'));
          },
        },
      ],
      rows: list,
    }));
  }

  update('load');
  return { update, unmount() { view.abort(); unsubscribe(); } };
}

/**
 * The months and institution the URL asks for, within the months the reports have: by default the last
 * complete month with usage, for everyone.
 * @param {ReportInfo} pr the Platform Report's entry in the report list
 * @param {Member[]} members
 * @returns {Period}
 */
function readPeriod(pr, members) {
  const first = pr.First_Month_Available;
  const last = pr.Last_Month_Available;
  const params = new URLSearchParams(location.search);
  let begin = params.get('month');
  if (!isMonth(begin)) begin = addMonths(monthOf(todayUTC()), -1);
  if (begin > last) begin = last;
  if (begin < first) begin = first;
  let end = params.get('end');
  if (!isMonth(end) || end < begin) end = begin;
  if (end > last) end = last;
  const customers = Array.isArray(members) && members.length ? [...members] : [{ Customer_ID: EVERYONE, Institution_Name: 'Everyone' }];
  const customer = params.get('customer_id') || EVERYONE;
  if (!customers.some((m) => m.Customer_ID === customer)) customers.push({ Customer_ID: customer, Institution_Name: customer });
  return {
    months: monthsBetween(first, last).reverse(),
    begin,
    end,
    customers,
    customer,
    institution: customers.find((m) => m.Customer_ID === customer)?.Institution_Name ?? customer,
    label: begin === end ? fmtMonth(begin) : `${fmtMonthShort(begin)} – ${fmtMonthShort(end)}`,
  };
}

/**
 * The metric-type table: the Platform Report summed per metric type and month.
 * @param {Panel} metrics
 */
function createReportView(metrics) {
  return createView({
    /** @param {{url: string, period: Period, how: How}} state */
    pending({ how }) {
      if (how !== 'quiet') metrics.loading();
    },
    load: ({ url }, signal) => getJSON(url, signal),
    render: (report, { period }) => metrics.show(...reportExceptions(report), metricsTable(report, period)),
    fail: (e) => metrics.error(sushiError(e)),
  });
}

/**
 * @param {any} report
 * @param {Period} period
 */
function metricsTable(report, { begin, end, institution, label }) {
  const columns = monthsBetween(begin, end);
  const sums = metricTable(report);
  const rows = METRIC_TYPES.map(([metric, note]) => {
    const values = columns.map((m) => sums.get(metric)?.get(m) ?? 0);
    return { metric, note, values, total: values.reduce((a, b) => a + b, 0) };
  });
  return dataTable({
    caption: `COUNTER metric types for ${institution}, ${label}`,
    testid: 'counter-table',
    className: 'counter-table',
    rowAttrs: (r) => ({ dataset: { metric: r.metric } }),
    columns: [
      { key: 'metric', label: 'Metric type', rowHeader: true, render: (r) => [r.metric.replace(/_/g, '_\u200b'), h('span', { class: 'metric-note' }, r.note)] },
      ...columns.map((m, i) => ({ key: m, label: fmtMonthShort(m), num: true, render: (/** @type {typeof rows[number]} */ r) => h('span', { dataset: { month: m, value: r.values[i] } }, fmtInt(r.values[i])) })),
      ...(columns.length > 1 ? [{ key: 'total', label: 'Total', num: true, render: (/** @type {typeof rows[number]} */ r) => fmtInt(r.total) }] : []),
    ],
    rows,
  });
}

/**
 * The report's COUNTER exceptions as notices above the table.
 * @param {any} report
 */
function reportExceptions(report) {
  /** @type {{Code: number, Message?: string, Data?: string}[]} */
  const exceptions = report?.Report_Header?.Exceptions ?? [];
  return exceptions.map((x) => h('p', { class: 'notice' }, `${x.Message ?? 'Exception'}${x.Data ? `: ${x.Data}` : ''} (COUNTER exception ${x.Code})`));
}

function fillSelect(select, options, value) {
  const key = JSON.stringify(options);
  if (select.dataset.options !== key) {
    select.dataset.options = key;
    replace(select, options.map(([v, label]) => h('option', { value: v }, label)));
  }
  select.value = value;
}

/** SUSHI errors are COUNTER exceptions ({Code, Message, Data}), not problem details. */
function sushiError(e) {
  const p = e.problem ?? {};
  if (p.Code && !p.title) e.problem = { title: `${p.Message} (COUNTER exception ${p.Code})`, detail: p.Data };
  return e;
}

