// Saved queries (/queries): named queries kept by the server, each with an embeddable chart and an API
// endpoint. The form creates one from scratch or from a dashboard view ("Save this view" links here
// with ?new=1&stat=…&view=…&chart=…&p.PARAM=…). Writing needs an API key, kept in sessionStorage.

import { h, replace, uid, icons } from '../dom.js';
import { escapeHtml } from '../format.js';
import { request, listStats, statUrl, invalidate, ApiError, slug, downloadCsv } from '../api.js';
import { createPanel, errorBox, emptyBox, toast } from '../panels.js';
import { isDay, todayUTC, addDays } from '../state.js';
import { navigate } from '../router.js';
import { renderSaved } from '../savedchart.js';
import { fieldLabel, metricLabel } from '../discover.js';
import { createView, whenCurrent, debounce } from '../view.js';

/** @typedef {import('../discover.js').Stat} Stat */
/** @typedef {import('../panels.js').Panel} Panel */

/**
 * A saved query as GET /api/v1/queries lists it.
 * @typedef {object} SavedQuery
 * @property {string} name
 * @property {string} [title]
 * @property {string} stat
 * @property {string} view
 * @property {string} chart
 * @property {Record<string, string | string[]>} [params]
 * @property {{embed?: string, result?: string}} [links]
 */

const KEY_STORAGE = 'tally.apiKey';
const CHARTS = [['area', 'Area'], ['line', 'Line'], ['bar', 'Bar'], ['pie', 'Pie'], ['table', 'Table']];
const RANGES = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last 365 days'], ['fixed', 'Fixed dates']];
const PREVIEW_DELAY_MS = 300;
const DELETE_CONFIRM_MS = 5000;

function storedKey() {
  try { return sessionStorage.getItem(KEY_STORAGE) ?? ''; } catch { return ''; }
}
/** @param {string} key */
function rememberKey(key) {
  try { sessionStorage.setItem(KEY_STORAGE, key); } catch { /* not remembered */ }
}

/** @param {HTMLElement} root */
export function mount(root) {
  document.title = 'Saved queries · Tally';
  const listPanel = h('section', { class: 'query-list', 'aria-labelledby': 'saved-list-title', dataset: { testid: 'query-list' } });
  const listHead = h('div', { class: 'section-head' }, h('h2', { id: 'saved-list-title' }, 'Saved'), h('a', { class: 'btn btn-primary', href: '#new-query', dataset: { testid: 'new-query' } }, '+ New saved query'));
  const form = createQueryForm(() => update());
  root.append(
    h('div', { class: 'page-head' }, h('div', {},
      h('h1', { tabindex: '-1' }, 'Saved queries'),
      h('p', { class: 'lede' }, 'Save a query once, and it has a chart to embed in any page and an API endpoint that always answers with fresh numbers. Relative ranges such as "last 30 days" move with today.'))),
    listHead, listPanel, form.panel.el);

  const list = createView({
    pending: () => replace(listPanel, h('div', { class: 'panel' }, h('div', { class: 'panel-body' }, h('div', { class: 'skeleton skeleton-line' }), h('div', { class: 'skeleton skeleton-line' })))),
    load: (_params, signal) => loadList(signal),
    /** @param {{queries: SavedQuery[], stats: Stat[]}} data @param {URLSearchParams} params */
    render({ queries, stats }, params) {
      if (!queries.length) replace(listPanel, emptyBox('No saved queries yet.', 'Use the form below, or "Save this view" on the overview or an item page.'));
      else replace(listPanel, queries.map((q) => queryCard(q, stats, form, () => update())));
      if (params.get('new') === '1' || location.hash === '#new-query') form.reveal();
    },
    fail: (e) => replace(listPanel, errorBox(e)),
  });

  function update() {
    const params = new URLSearchParams(location.search);
    form.load(params);
    return list.run(params);
  }

  function onHash() {
    if (location.hash === '#new-query') form.reveal();
  }
  window.addEventListener('hashchange', onHash);

  update();
  return {
    update,
    unmount() {
      list.abort();
      form.dispose();
      window.removeEventListener('hashchange', onHash);
    },
  };
}

/**
 * The saved queries, and the registered ones they answer from (none when those cannot be read).
 * @param {AbortSignal} signal
 * @returns {Promise<{queries: SavedQuery[], stats: Stat[]}>}
 */
async function loadList(signal) {
  const queries = await request('/api/v1/queries', { signal });
  const stats = await whenCurrent(signal, listStats().catch(() => []));
  return { queries, stats };
}

// ---------- one saved query ----------

/**
 * @typedef {object} FormAccess what a card needs of the form: the API key, and a place to ask for it
 * @property {() => string} key
 * @property {(message: string) => void} focusKey
 */

/**
 * @param {SavedQuery} q
 * @param {Stat[]} stats
 * @param {FormAccess} form
 * @param {() => void} refresh
 */
function queryCard(q, stats, form, refresh) {
  const label = q.title || q.name;
  const embedPath = q.links?.embed ?? `/embed/${q.name}`;
  const embedUrl = `${location.origin}${embedPath}`;
  const resultUrl = q.links?.result ?? `/api/v1/queries/${q.name}/result`;
  const snippet = `<iframe src="${embedUrl}" title="${escapeHtml(label)}" width="640" height="360" style="border:0" loading="lazy"></iframe>`;
  const panel = createPanel({ title: label, testid: `query-${q.name}`, className: 'query-card' });
  panel.setSub(`${q.name} · ${q.stat} · ${q.view} · ${q.chart}`);
  panel.setTools(
    h('a', { class: 'btn btn-sm', href: embedPath, target: '_blank', rel: 'noopener', dataset: { testid: `open-embed-${q.name}` } }, 'Open chart'),
    h('button', {
      type: 'button', class: 'btn btn-sm', 'aria-label': `Download ${label} as CSV`, dataset: { testid: `csv-${q.name}` },
      onclick: () => downloadCsv(resultUrl, `${q.name}.csv`).catch((e) => toast(`CSV download failed: ${e.message}`, 'bad')),
    }, icons.download(), 'CSV'),
    deleteButton(q, form, refresh));
  const preview = h('details', { class: 'preview' }, h('summary', {}, 'Preview'));
  preview.addEventListener('toggle', () => {
    if (preview.open && !preview.querySelector('iframe')) preview.append(h('iframe', { class: 'embed-frame', src: embedPath, title: `Preview of ${label}`, loading: 'lazy' }));
  });
  panel.show(
    h('dl', {},
      h('dt', {}, 'Embed URL'), h('dd', {}, copyRow(embedUrl, `Embed URL of ${label}`, `embed-url-${q.name}`)),
      h('dt', {}, 'HTML'), h('dd', {}, copyRow(snippet, `iframe snippet of ${label}`, `snippet-${q.name}`, true)),
      h('dt', {}, 'API'), h('dd', {}, copyRow(`${location.origin}${resultUrl}`, `API URL of ${label}`, `api-url-${q.name}`)),
      h('dt', {}, 'Answers'), h('dd', {}, answers(q, stats))),
    preview);
  return panel.el;
}

/**
 * What a saved query answers: "Timeline of views (views) with days=30".
 * @param {SavedQuery} q
 * @param {Stat[]} stats
 */
function answers(q, stats) {
  const paramText = new URLSearchParams(Object.entries(q.params ?? {}).flatMap(([k, v]) => [v].flat().map((x) => [k, x]))).toString();
  const stat = stats.find((s) => s.name === q.stat);
  return h('span', {}, `${q.view === 'totals' ? 'Totals' : 'Timeline'} of `, h('code', {}, q.stat),
    stat ? ` (${metricLabel(stat.metric, stat.event_type).toLowerCase()})` : '',
    paramText ? [' with ', h('code', {}, paramText)] : '');
}

/**
 * Delete, armed by a first click and done by a second within a few seconds.
 * @param {SavedQuery} q
 * @param {FormAccess} form
 * @param {() => void} refresh
 */
function deleteButton(q, form, refresh) {
  const label = q.title || q.name;
  const del = h('button', { type: 'button', class: 'btn btn-sm btn-danger', dataset: { testid: `delete-${q.name}` }, 'aria-label': `Delete saved query ${label}` }, 'Delete');
  /** @type {ReturnType<typeof setTimeout> | 0} */
  let armed = 0;
  del.addEventListener('click', async () => {
    if (!armed) {
      armed = setTimeout(() => { armed = 0; del.textContent = 'Delete'; }, DELETE_CONFIRM_MS);
      del.textContent = 'Confirm delete';
      del.setAttribute('aria-label', `Confirm: delete ${label}`);
      return;
    }
    clearTimeout(armed);
    armed = 0;
    const key = form.key();
    if (!key) {
      toast('Enter an API key in the form below to delete.', 'bad');
      form.focusKey('Deleting needs a write API key.');
      del.textContent = 'Delete';
      return;
    }
    del.disabled = true;
    try {
      await request(`/api/v1/queries/${encodeURIComponent(q.name)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });
      rememberKey(key);
      invalidate('/api/v1/queries');
      toast(`Deleted ${label}`);
      refresh();
    } catch (e) {
      del.disabled = false;
      del.textContent = 'Delete';
      toast(`Could not delete: ${errorMessage(e)}`, 'bad');
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) form.focusKey(e.message);
    }
  });
  return del;
}

/** @param {unknown} e */
const errorMessage = (e) => (e instanceof Error ? e.message : String(e));

/**
 * A read-only field with a Copy button (the clipboard, else a selection and execCommand).
 * @param {string} text
 * @param {string} label
 * @param {string} testid
 * @param {boolean} [multiline]
 */
function copyRow(text, label, testid, multiline = false) {
  const id = uid('copy');
  const field = multiline
    ? h('textarea', { class: 'input', id, readOnly: true, rows: 2, dataset: { testid } }, text)
    : h('input', { class: 'input', id, readOnly: true, value: text, dataset: { testid } });
  return h('span', { class: 'copy-row' },
    h('label', { class: 'visually-hidden', for: id }, label), field,
    h('button', {
      type: 'button', class: 'btn btn-sm', 'aria-label': `Copy ${label}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          field.select();
          document.execCommand('copy');
        }
        toast('Copied');
      },
    }, icons.copy(), 'Copy'));
}

// ---------- the form ----------

/**
 * @typedef {object} FormControls
 * @property {HTMLInputElement} title
 * @property {HTMLInputElement} name
 * @property {HTMLSelectElement} stat
 * @property {HTMLSelectElement} view
 * @property {HTMLSelectElement} chart
 * @property {HTMLSelectElement} range
 * @property {HTMLInputElement} dateStart
 * @property {HTMLInputElement} dateEnd
 * @property {HTMLSelectElement} interval
 * @property {HTMLInputElement} count
 * @property {HTMLSelectElement} groupBy
 * @property {HTMLInputElement} key
 */

/**
 * The form's elements and what it knows: the registered queries, and whether the name was typed.
 * @typedef {object} QueryForm
 * @property {Panel} panel
 * @property {HTMLFormElement} el
 * @property {FormControls} f
 * @property {Record<string, HTMLElement>} errors error text by field (filters by their field name)
 * @property {HTMLElement} filtersBox
 * @property {HTMLElement} status
 * @property {HTMLButtonElement} submit
 * @property {Stat[]} stats
 * @property {boolean} nameEdited
 * @property {string} loaded the URL parameters the form was last filled from
 */

/**
 * The form that saves a query, with a live preview. onSaved refreshes the list.
 * @param {() => void} onSaved
 */
function createQueryForm(onSaved) {
  const form = buildForm();
  const preview = createPreview(form);
  const schedulePreview = debounce(() => preview.run(form), PREVIEW_DELAY_MS);
  wireForm(form, schedulePreview, () => save(form, onSaved));
  return {
    panel: form.panel,
    dispose() {
      preview.abort();
      preview.dispose();
    },
    key: () => form.f.key.value.trim() || storedKey(),
    reveal() {
      form.panel.el.scrollIntoView({ block: 'start' });
      form.f.title.focus();
    },
    /** @param {string} message */
    focusKey(message) {
      showError(form, 'key', message);
      form.f.key.focus();
    },
    /**
     * Fills the stat list, and the fields from ?new=1&stat=…&p.… when present.
     * @param {URLSearchParams} query
     */
    async load(query) {
      if (!(await loadStats(form, query))) return;
      if (query.get('new') === '1') {
        fillFromView(form, query);
        form.panel.setTitle('Save this view');
      } else {
        onStat(form);
      }
      schedulePreview();
    },
  };
}

/** @returns {QueryForm} */
function buildForm() {
  const panel = createPanel({ title: 'New saved query', testid: 'query-form' });
  panel.el.id = 'new-query';
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /** @type {Record<string, HTMLElement>} */
  const controls = {};
  /**
   * @param {string} name
   * @param {string} label
   * @param {HTMLElement} control
   * @param {string} [hint]
   */
  const field = (name, label, control, hint) => {
    const id = uid(`q-${name}`);
    control.id = id;
    errors[name] = h('p', { class: 'field-error', id: `${id}-error`, dataset: { testid: `q-error-${name}` } });
    control.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
    controls[name] = control;
    return h('div', { class: 'field', dataset: { field: name } }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, errors[name]);
  };
  /** @param {Record<string, unknown>} props */
  const input = (props) => h('input', { class: 'input', ...props });
  /** @param {string[][]} options @param {Record<string, unknown>} props */
  const select = (options, props) => h('select', { class: 'select', ...props }, options.map(([v, l]) => h('option', { value: v }, l)));

  const filtersBox = h('div', { class: 'form-grid wide' });
  const grid = h('div', { class: 'form-grid' },
    field('title', 'Title', input({ type: 'text', maxlength: 200, placeholder: 'Views, last 30 days', dataset: { testid: 'q-title' } })),
    field('name', 'Name (used in URLs)', input({ type: 'text', maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._-]*', autocomplete: 'off', spellcheck: 'false', dataset: { testid: 'q-name' } }), 'Letters, digits, dot, dash and underscore.'),
    field('stat', 'Registered query', h('select', { class: 'select', dataset: { testid: 'q-stat' } })),
    field('view', 'View', select([['timeline', 'Timeline (per day or month)'], ['totals', 'Totals (ranked)']], { dataset: { testid: 'q-view' } })),
    field('chart', 'Chart', select(CHARTS, { dataset: { testid: 'q-chart' } })),
    field('range', 'Date range', select(RANGES, { dataset: { testid: 'q-range' } })),
    field('dateStart', 'From', input({ type: 'date', dataset: { testid: 'q-from' } })),
    field('dateEnd', 'To', input({ type: 'date', dataset: { testid: 'q-to' } })),
    field('interval', 'Interval', select([['day', 'Day'], ['month', 'Month']], { dataset: { testid: 'q-interval' } })),
    field('count', 'Rows', input({ type: 'number', min: 1, max: 1000, value: '10', dataset: { testid: 'q-count' } })),
    field('groupBy', 'Group by', select([['', 'The query\u2019s field']], { dataset: { testid: 'q-groupby' } })),
    filtersBox,
    h('div', { class: 'wide' }, field('key', 'API key (write)', input({ type: 'password', autocomplete: 'off', spellcheck: 'false', value: storedKey(), dataset: { testid: 'q-key' } }), 'Kept in this browser tab only (sessionStorage).')));
  const f = /** @type {FormControls} */ (/** @type {unknown} */ (controls));

  // Last 30 days unless a view says otherwise (also after "Clear").
  const thirty = /** @type {HTMLOptionElement} */ (f.range.querySelector('option[value="30"]'));
  thirty.defaultSelected = true;
  f.range.value = '30';
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'q-save' } }, 'Save query');
  const status = h('p', { class: 'form-status', role: 'status', dataset: { testid: 'q-status' } });
  const el = h('form', { novalidate: true, 'aria-label': 'New saved query' }, grid,
    h('div', { class: 'form-actions' }, submit, h('button', { type: 'reset', class: 'btn' }, 'Clear'), status),
    h('div', { class: 'preview', dataset: { testid: 'q-preview' } }));
  panel.show(el);
  panel.setSub('Pick a registered query and its parameters; the preview shows what the chart will be.');
  return { panel, el, f, errors, filtersBox, status, submit, stats: [], nameEdited: false, loaded: '' };
}

/**
 * What each control does: the name follows the title until typed, a new stat resets the fields that
 * depend on it, and every other change schedules a preview.
 * @param {QueryForm} form
 * @param {() => void} schedulePreview
 * @param {() => void} submit
 */
function wireForm(form, schedulePreview, submit) {
  const { f, el } = form;
  f.title.addEventListener('input', () => { if (!form.nameEdited) f.name.value = slug(f.title.value).slice(0, 64); });
  f.name.addEventListener('input', () => { form.nameEdited = f.name.value !== ''; });
  f.stat.addEventListener('change', () => { onStat(form); schedulePreview(); });
  f.view.addEventListener('change', () => { f.view.dataset.touched = '1'; sync(form); schedulePreview(); });
  f.range.addEventListener('change', () => { sync(form); schedulePreview(); });
  el.addEventListener('input', (e) => { if (e.target !== f.key && e.target !== f.title && e.target !== f.name) schedulePreview(); });
  el.addEventListener('reset', () => setTimeout(() => {
    form.nameEdited = false;
    delete f.view.dataset.touched;
    f.key.value = storedKey();
    clearErrors(form);
    onStat(form);
  }, 0));
  el.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
}

/** @param {QueryForm} form */
const selectedStat = (form) => form.stats.find((s) => s.name === form.f.stat.value);

/**
 * Reads the registered queries into the stat list, unless the form was already filled for these parameters.
 * @param {QueryForm} form
 * @param {URLSearchParams} query
 * @returns {Promise<boolean>} whether the form was (re)filled
 */
async function loadStats(form, query) {
  const signature = query.toString();
  if (signature === form.loaded && form.stats.length) return false;
  form.loaded = signature;
  const statSelect = form.f.stat;
  try {
    form.stats = await listStats();
  } catch (e) {
    replace(statSelect, h('option', { value: '' }, 'Could not load the registered queries'));
    form.status.textContent = errorMessage(e);
    return false;
  }
  /** @type {Map<string, Stat[]>} */
  const groups = new Map();
  for (const s of form.stats) (groups.get(s.event_type) ?? groups.set(s.event_type, []).get(s.event_type))?.push(s);
  replace(statSelect, [...groups].map(([type, list]) => h('optgroup', { label: type }, list.map((s) => h('option', { value: s.name }, `${s.name} (${s.kind}, ${s.metric})`)))));
  return true;
}

/**
 * A new registered query is chosen: its default view, its group-by fields and a filter per field.
 * @param {QueryForm} form
 */
function onStat(form) {
  const { f } = form;
  const stat = selectedStat(form);
  if (!stat) return;
  if (!f.view.dataset.touched) f.view.value = stat.kind === 'terms' ? 'totals' : 'timeline';
  replace(f.groupBy, h('option', { value: '' }, stat.field ? `${fieldLabel(stat.field)} (the query's field)` : 'Default'), (stat.filters ?? []).filter((x) => x !== stat.field).map((x) => h('option', { value: x }, fieldLabel(x))));
  replace(form.filtersBox, (stat.filters ?? []).map((name) => filterField(form, name)));
  sync(form);
}

/**
 * One filter of the form: is / is not, and values separated by commas.
 * @param {QueryForm} form
 * @param {string} name
 */
function filterField(form, name) {
  const id = uid('q-filter');
  const opId = uid('q-filter-op');
  form.errors[name] = h('p', { class: 'field-error', dataset: { testid: `q-error-${name}` } });
  return h('div', { class: 'field', dataset: { filter: name } },
    h('label', { for: id }, `Filter: ${fieldLabel(name)}`),
    h('div', { class: 'copy-row' },
      h('label', { class: 'visually-hidden', for: opId }, `${fieldLabel(name)} comparison`),
      h('select', { class: 'select', id: opId, dataset: { role: 'op', testid: `q-filter-op-${name}` } }, h('option', { value: 'is' }, 'is'), h('option', { value: 'not' }, 'is not')),
      h('input', { class: 'input', id, dataset: { role: 'value', testid: `q-filter-${name}` }, placeholder: 'any; several: a, b' })),
    form.errors[name]);
}

/**
 * The parts of a filter field: its name, and its comparison and value controls.
 * @param {Element} box
 */
function filterControls(box) {
  const name = /** @type {HTMLElement} */ (box).dataset.filter ?? '';
  const op = /** @type {HTMLSelectElement} */ (box.querySelector('[data-role=op]'));
  const value = /** @type {HTMLInputElement} */ (box.querySelector('[data-role=value]'));
  return { name, op, value };
}

/**
 * Shows the fields that matter for the view and range; a fixed range starts as the last 30 days.
 * @param {QueryForm} form
 */
function sync({ f }) {
  const timeline = f.view.value === 'timeline';
  const fixed = f.range.value === 'fixed';
  /** @param {HTMLElement} control @param {boolean} hidden */
  const hide = (control, hidden) => { /** @type {HTMLElement} */ (control.closest('.field')).hidden = hidden; };
  hide(f.interval, !timeline);
  hide(f.count, timeline);
  hide(f.groupBy, timeline);
  hide(f.dateStart, !fixed);
  hide(f.dateEnd, !fixed);
  if (fixed && !f.dateStart.value) {
    f.dateEnd.value = todayUTC();
    f.dateStart.value = addDays(todayUTC(), -29);
  }
}

/**
 * The params object sent to the server.
 * @param {QueryForm} form
 * @returns {Record<string, string | string[]>}
 */
function readParams({ f, filtersBox }) {
  /** @type {Record<string, string | string[]>} */
  const p = {};
  if (f.range.value === 'fixed') {
    if (f.dateStart.value) p.dateStart = f.dateStart.value;
    if (f.dateEnd.value) p.dateEnd = f.dateEnd.value;
  } else p.days = f.range.value;
  if (f.view.value === 'timeline') p.interval = f.interval.value;
  else {
    if (f.count.value) p.count = f.count.value;
    if (f.groupBy.value) p.groupBy = f.groupBy.value;
  }
  for (const box of filtersBox.querySelectorAll('[data-filter]')) {
    const { name, op, value } = filterControls(box);
    const values = value.value.split(',').map((v) => v.trim()).filter(Boolean);
    if (values.length) p[(op.value === 'not' ? 'not_' : '') + name] = values;
  }
  return p;
}

/**
 * Fills the form from a dashboard view's ?new=1&stat=…&view=…&chart=…&title=…&p.PARAM=….
 * @param {QueryForm} form
 * @param {URLSearchParams} query
 */
function fillFromView(form, query) {
  const { f } = form;
  const stat = query.get('stat');
  if (stat && form.stats.some((s) => s.name === stat)) f.stat.value = stat;
  onStat(form);
  const view = query.get('view');
  if (view === 'timeline' || view === 'totals') { f.view.value = view; f.view.dataset.touched = '1'; }
  const chart = query.get('chart');
  if (chart && CHARTS.some(([c]) => c === chart)) f.chart.value = chart;
  const title = query.get('title');
  if (title) {
    f.title.value = title;
    f.name.value = slug(title).slice(0, 64);
  }
  fillRange(f, query);
  const interval = query.get('p.interval');
  if (interval) f.interval.value = interval === 'month' ? 'month' : 'day';
  const count = query.get('p.count');
  if (count) f.count.value = count;
  for (const box of form.filtersBox.querySelectorAll('[data-filter]')) {
    const { name, op, value } = filterControls(box);
    const yes = query.getAll(`p.${name}`);
    const no = query.getAll(`p.not_${name}`);
    if (yes.length || no.length) {
      op.value = yes.length ? 'is' : 'not';
      value.value = (yes.length ? yes : no).join(', ');
    }
  }
  sync(form);
}

/**
 * The range of a view: a preset number of days, fixed dates, or other days as the dates they cover now.
 * @param {FormControls} f
 * @param {URLSearchParams} query
 */
function fillRange(f, query) {
  const days = query.get('p.days');
  const start = query.get('p.dateStart');
  const end = query.get('p.dateEnd');
  if (RANGES.some(([r]) => r === days)) f.range.value = /** @type {string} */ (days);
  else if (isDay(start)) {
    f.range.value = 'fixed';
    f.dateStart.value = /** @type {string} */ (start);
    f.dateEnd.value = isDay(end) ? /** @type {string} */ (end) : todayUTC();
  } else if (days) {
    f.range.value = 'fixed';
    f.dateEnd.value = todayUTC();
    f.dateStart.value = addDays(todayUTC(), -(Number(days) - 1));
  }
}

/**
 * The preview under the form: the chart of what would be saved, from the registered query's own URL.
 * @param {QueryForm} form
 */
function createPreview(form) {
  const box = /** @type {HTMLElement} */ (form.el.querySelector('[data-testid="q-preview"]'));
  /** @type {{dispose(): void} | null} */
  let chart = null;
  const dispose = () => {
    chart?.dispose();
    chart = null;
  };
  const view = createView({
    /** @param {QueryForm} state @param {AbortSignal} signal */
    async load(state, signal) {
      const stat = selectedStat(state);
      if (!stat) return null;
      const url = statUrl(stat.name, state.f.view.value, readParams(state));
      return { stat, url, result: await request(url, { signal }) };
    },
    render(answer, state) {
      if (!answer) return;
      const { stat, url, result } = answer;
      dispose();
      const host = h('div', { class: 'chart-wrap' });
      replace(box, h('p', { class: 'hint' }, 'Preview of ', h('a', { href: url, target: '_blank', rel: 'noopener' }, url)), host);
      chart = renderSaved(host, { chart: state.f.chart.value, title: state.f.title.value, params: readParams(state) }, result, { name: metricLabel(stat.metric, stat.event_type), testid: 'q-preview-chart' });
    },
    fail(e) {
      dispose();
      replace(box, errorBox(e));
    },
  });
  return { run: view.run, abort: view.abort, dispose };
}

/** @param {QueryForm} form */
function clearErrors({ errors, el, status }) {
  for (const e of Object.values(errors)) e.textContent = '';
  for (const c of el.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  status.textContent = '';
  status.className = 'form-status';
}

/**
 * Shows a message by its field (the server names parameters as params.NAME, filters also as not_NAME).
 * @param {QueryForm} form
 * @param {string} name
 * @param {string} message
 * @returns {boolean} whether the field was found
 */
function showError({ errors, f, filtersBox }, name, message) {
  const key = name.replace(/^params\./, '').replace(/^not_/, '');
  const controls = /** @type {Record<string, HTMLElement | undefined>} */ (/** @type {unknown} */ (f));
  const target = errors[key] ?? (key === 'days' ? errors.range : null);
  const control = controls[key] ?? (key === 'days' ? f.range : filtersBox.querySelector(`[data-filter="${key}"] [data-role=value]`));
  control?.setAttribute('aria-invalid', 'true');
  if (target) target.textContent = message;
  return Boolean(target);
}

/**
 * Saves the query with PUT, then clears the form and shows the list with it; errors go by their fields.
 * @param {QueryForm} form
 * @param {() => void} onSaved
 */
async function save(form, onSaved) {
  const { f, el, status, submit } = form;
  clearErrors(form);
  const name = f.name.value.trim();
  const key = f.key.value.trim();
  if (!name) showError(form, 'name', 'Give the query a name.');
  if (!key) showError(form, 'key', 'Writing needs an API key with the write role.');
  if (!name || !key) {
    status.textContent = 'Please correct the fields marked.';
    status.className = 'form-status bad';
    focusInvalid(el);
    return;
  }
  const body = { title: f.title.value.trim() || undefined, stat: f.stat.value, view: f.view.value, params: readParams(form), chart: f.chart.value };
  submit.disabled = true;
  status.textContent = 'Saving…';
  try {
    await request(`/api/v1/queries/${encodeURIComponent(name)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    rememberKey(key);
    invalidate('/api/v1/queries');
    toast(`Saved ${body.title ?? name}`);
    el.reset();
    // Drop ?new=1…: the list shows the new query (navigating re-renders; otherwise refresh here).
    if (location.search || location.hash) navigate('/queries', { replace: true });
    else onSaved();
    status.textContent = `Saved “${body.title ?? name}”.`;
    status.className = 'form-status ok';
  } catch (e) {
    status.className = 'form-status bad';
    showSaveError(form, e);
  } finally {
    submit.disabled = false;
  }
}

/**
 * @param {QueryForm} form
 * @param {unknown} e
 */
function showSaveError(form, e) {
  const { f, el, status } = form;
  if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
    showError(form, 'key', e.message);
    status.textContent = e.problem.title ?? 'Not allowed';
    f.key.focus();
  } else if (e instanceof ApiError && Object.keys(e.errors).length) {
    /** @param {string | string[]} messages */
    const text = (messages) => [messages].flat().join(' ');
    const unplaced = Object.entries(e.errors).filter(([field, messages]) => !showError(form, field, text(messages)));
    status.textContent = `${e.problem.title ?? 'Not saved'}${unplaced.length ? `: ${unplaced.map(([k, v]) => `${k} ${text(v)}`).join('; ')}` : ''}`;
    focusInvalid(el);
  } else {
    status.textContent = errorMessage(e);
  }
}

/** @param {HTMLElement} el */
function focusInvalid(el) {
  /** @type {HTMLElement | null} */ (el.querySelector('[aria-invalid="true"]'))?.focus();
}
