// Building blocks: panels with loading, empty and error states; export buttons; accessible tables;
// and a small toast for messages.

import { h, replace, uid, icons } from './dom.js';
import { fmtNum } from './format.js';
import { ApiError, downloadCsv } from './api.js';

/** @typedef {ReturnType<typeof createPanel>} Panel */
/** @typedef {{key?: string, label: string, url: string, filename: string}} ExportSource a CSV the export menu offers */
/**
 * @template R
 * @typedef {{key: string, label: string, num?: boolean, rowHeader?: boolean, className?: string, render?: (row: R, i: number) => import('./dom.js').Child}} TableColumn
 */

/**
 * A titled card. Its body shows a skeleton, an error, an empty message or content.
 * `testid` names it for tests; the export tools, API link and data-table footer are optional.
 * @param {{title: string, sub?: string, testid: string, className?: string, headingLevel?: 'h2' | 'h3', foot?: boolean}} options
 */
export function createPanel({ title, sub, testid, className = '', headingLevel = 'h2', foot = false }) {
  const titleId = uid('panel-title');
  const subEl = h('p', { class: 'panel-sub' }, sub ?? '');
  const tools = h('div', { class: 'panel-tools' });
  const body = h('div', { class: 'panel-body' });
  const titleEl = h(headingLevel, { id: titleId }, title);
  const el = h('section', { class: `panel ${className}`, 'aria-labelledby': titleId, dataset: { testid } },
    h('div', { class: 'panel-head' }, h('div', { class: 'panel-titles' }, titleEl, subEl), tools),
    body);
  /** @type {HTMLDetailsElement | null} */
  let footEl = null;
  /** @type {(() => Node) | null} */
  let tableBuilder = null;
  if (foot) {
    footEl = h('details', { class: 'panel-foot', dataset: { testid: `${testid}-table-toggle` } },
      h('summary', {}, 'Data table'), h('div', { class: 'table-wrap' }));
    footEl.addEventListener('toggle', () => { if (footEl?.open) renderFoot(); });
    el.append(footEl);
  }
  function renderFoot() {
    if (!footEl?.open || !tableBuilder) return;
    replace(/** @type {HTMLElement} */ (footEl.querySelector('.table-wrap')), tableBuilder());
  }

  return {
    el,
    body,
    tools,
    title: titleEl,
    /** @param {string} text */
    setTitle(text) { titleEl.textContent = text; },
    /** @param {import('./dom.js').Child} text */
    setSub(text) { replace(subEl, text ?? ''); },
    /**
     * Replaces the body with a node (or nodes).
     * @param {...import('./dom.js').Child} nodes
     */
    show(...nodes) {
      body.removeAttribute('aria-busy');
      replace(body, ...nodes);
    },
    loading(kind = 'rows') {
      body.setAttribute('aria-busy', 'true');
      replace(body, kind === 'chart' ? h('div', { class: 'skeleton skeleton-block', style: { height: '280px' } }) : skeletonRows(6));
    },
    /** @param {unknown} err */
    error(err) {
      body.removeAttribute('aria-busy');
      replace(body, errorBox(err));
    },
    /** @param {string} message @param {string} [detail] */
    empty(message, detail) {
      body.removeAttribute('aria-busy');
      replace(body, emptyBox(message, detail));
    },
    /** The table behind the chart, built when the reader opens "Data table" (and rebuilt on new data). */
    /** @param {(() => Node) | null} builder */
    setTable(builder) {
      tableBuilder = builder;
      if (footEl) footEl.hidden = !builder;
      renderFoot();
    },
    /** @param {...import('./dom.js').Child} nodes */
    setTools(...nodes) { replace(tools, ...nodes); },
  };
}

export function skeletonRows(n) {
  return h('div', { class: 'skeleton-rows', 'aria-hidden': 'true' },
    Array.from({ length: n }, (_, i) => h('div', { class: 'skeleton skeleton-line', style: { width: `${92 - ((i * 17) % 35)}%` } })));
}

/**
 * The problem details of a failed request, shown where its answer would be.
 * @param {unknown} err
 */
export function errorBox(err) {
  const problem = err instanceof ApiError ? err.problem : { title: 'Something went wrong', detail: String(/** @type {{message?: unknown} | null} */ (err)?.message ?? err) };
  const fields = err instanceof ApiError ? Object.entries(err.errors) : [];
  return h('div', { class: 'error-box', role: 'alert', dataset: { testid: 'error' } },
    h('strong', {}, problem.title || `Request failed (${err instanceof ApiError ? err.status : ''})`),
    problem.detail && problem.detail !== problem.title ? h('span', {}, problem.detail) : null,
    fields.length && !problem.detail ? h('span', {}, fields.map(([k, v]) => `${k}: ${[v].flat().join(', ')}`).join('; ')) : null);
}

/**
 * @param {string} message
 * @param {string} [detail]
 */
export function emptyBox(message, detail) {
  return h('div', { class: 'empty', dataset: { testid: 'empty' } }, h('strong', {}, message), detail ? h('span', {}, detail) : null);
}

// Open export menus close on a click elsewhere and on Escape (focus goes back to their button).
document.addEventListener('click', (event) => {
  for (const menu of document.querySelectorAll('details.menu[open]')) if (!menu.contains(/** @type {Node | null} */ (event.target))) menu.removeAttribute('open');
});
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  for (const menu of document.querySelectorAll('details.menu[open]')) {
    menu.removeAttribute('open');
    menu.querySelector('summary')?.focus();
  }
});

/**
 * Export buttons for a panel: CSV for each API URL behind it (a menu when there are several), plus PNG
 * and SVG for a chart. Each button has an accessible name like "Download Views over time as CSV".
 * sources: [{label, url, filename}]; chart: {png(name), svg(name)}; base: file name without extension.
 * @param {{label: string, testid: string, sources?: ExportSource[], chart?: (() => {png(name: string): void, svg(name: string): void} | null) | null, base?: string}} options
 */
export function exportTools({ label, testid, sources = [], chart = null, base }) {
  /** @type {HTMLElement[]} */
  const nodes = [];
  /** @param {ExportSource} source */
  const csv = (source) => async (/** @type {Event} */ event) => {
    const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
    button.disabled = true;
    try {
      await downloadCsv(source.url, source.filename);
    } catch (e) {
      toast(`CSV download failed: ${e instanceof Error ? e.message : e}`, 'bad');
    } finally {
      button.disabled = false;
      button.closest('details')?.removeAttribute('open');
    }
  };
  if (sources.length === 1) {
    nodes.push(h('button', {
      type: 'button', class: 'btn btn-sm', onclick: csv(sources[0]),
      'aria-label': `Download ${label} as CSV`, title: `CSV of ${sources[0].url}`, dataset: { testid: `${testid}-csv` },
    }, icons.download(), 'CSV'));
  } else if (sources.length > 1) {
    nodes.push(h('details', { class: 'menu' },
      h('summary', { class: 'btn btn-sm', 'aria-label': `Download ${label} as CSV: choose the data`, dataset: { testid: `${testid}-csv` } }, icons.download(), 'CSV'),
      h('div', { class: 'menu-list' }, sources.map((source) => h('button', {
        type: 'button', class: 'btn btn-sm btn-ghost', onclick: csv(source),
        'aria-label': `Download ${source.label} as CSV`, title: source.url, dataset: { testid: `${testid}-csv-${source.key ?? source.label}` },
      }, source.label)))));
  }
  if (chart) {
    nodes.push(h('button', {
      type: 'button', class: 'btn btn-sm', 'aria-label': `Download ${label} as PNG`, dataset: { testid: `${testid}-png` },
      onclick: () => chart()?.png(`${base}.png`),
    }, 'PNG'));
    nodes.push(h('button', {
      type: 'button', class: 'btn btn-sm', 'aria-label': `Download ${label} as SVG`, dataset: { testid: `${testid}-svg` },
      onclick: () => chart()?.svg(`${base}.svg`),
    }, 'SVG'));
  }
  if (sources.length) {
    nodes.push(h('a', {
      class: 'api-link', href: sources[0].url, target: '_blank', rel: 'noopener',
      'aria-label': `${label}: the API answer as JSON`, title: sources[0].url, dataset: { testid: `${testid}-api` },
    }, 'API'));
  }
  return nodes;
}

/**
 * A table with column headers (scope=col) and, for the column marked rowHeader, row headers (scope=row).
 * columns: [{key, label, num, render(row, i) → node|string, rowHeader, className}]
 * @template R
 * @param {{columns: TableColumn<R>[], rows: R[], caption?: string, testid?: string, className?: string, rowAttrs?: ((row: R, i: number) => import('./dom.js').Props) | null}} table
 */
export function dataTable({ columns, rows, caption, testid, className = '', rowAttrs = null }) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: `data ${className}`, dataset: { testid } },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: [c.num ? 'num' : '', c.className || ''].join(' ').trim() || null }, c.label)))),
      h('tbody', {}, rows.map((row, i) => h('tr', rowAttrs ? rowAttrs(row, i) : {}, columns.map((c) => {
        const value = c.render ? c.render(row, i) : row[c.key];
        const cls = [c.num ? 'num' : '', c.className || ''].join(' ').trim() || null;
        return c.rowHeader ? h('th', { scope: 'row', class: cls }, value) : h('td', { class: cls }, typeof value === 'number' ? fmtNum(value) : value);
      }))))));
}

/** A value with a bar proportional to the largest in its column. */
export function barCell(value, max, color, format = fmtNum) {
  const pct = max > 0 ? Math.max(1.5, (value / max) * 100) : 0;
  return h('div', { class: 'bar-line' },
    h('div', { class: 'bar-track', 'aria-hidden': 'true' }, h('div', { class: 'bar-fill', style: { width: `${pct}%`, background: color } })),
    h('span', { class: 'bar-value' }, format(value)));
}

let toastRegion;
/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(message, kind = 'ok') {
  if (!toastRegion) {
    toastRegion = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastRegion);
  }
  const item = h('div', { class: `toast ${kind}` }, message);
  toastRegion.append(item);
  setTimeout(() => item.remove(), 4000);
}

/**
 * A group of radio buttons that looks like a segmented control. Native radios give Tab, arrow keys
 * and Space; Enter also chooses. onChange(value) runs when the choice changes.
 */
export function segmented({ legend, name, options, value, onChange, testid, hideLegend = false }) {
  const group = h('fieldset', { class: 'control-group compact', dataset: { testid } },
    h('legend', { class: hideLegend ? 'visually-hidden' : null }, legend),
    h('div', { class: 'seg' }, options.map((o) => h('label', { title: o.title ?? null },
      h('input', {
        type: 'radio', name, value: o.value, checked: o.value === value,
        dataset: { testid: `${testid}-${o.value}` },
        onchange: (e) => e.target.checked && onChange(o.value),
        onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); e.target.checked = true; onChange(o.value); } },
      }),
      h('span', {}, o.label)))));
  return {
    el: group,
    set(v) {
      for (const input of group.querySelectorAll('input')) input.checked = input.value === v;
    },
  };
}
