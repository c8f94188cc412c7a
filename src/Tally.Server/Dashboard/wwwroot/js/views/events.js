// Raw events (/events), datagrepper style. The page's query string is the API's: delta or start/end,
// type (repeatable), FIELD=v and not_FIELD=v, page, rows_per_page, order. So every view of the browser
// is also the URL of its data.

import { h, replace, uid, icons } from '../dom.js';
import { fmtInt, fmtTime, typeLabel, countryName } from '../format.js';
import { request, listTypes, ApiError } from '../api.js';
import { createPanel, exportTools, emptyBox } from '../panels.js';
import { readFilters, hrefWith } from '../state.js';
import { filterEditor } from '../controls.js';
import { navigate } from '../router.js';
import { onLive } from '../live.js';
import { createView, whenCurrent } from '../view.js';

/** @type {[number, string][]} */
const WINDOWS = [
  [600, 'Last 10 minutes'],
  [3600, 'Last hour'],
  [21600, 'Last 6 hours'],
  [86400, 'Last 24 hours'],
  [604800, 'Last 7 days'],
  [2592000, 'Last 30 days'],
  [7776000, 'Last 90 days'],
];
const DEFAULT_DELTA = '3600';
const FIRST_FIELDS = ['item_id', 'country', 'institution', 'title_id', 'referrer', 'data_type', 'access_type', 'access_method', 'format', 'topic', 'category'];
const LAST_FIELDS = ['ip', 'user_agent', 'user_id', 'session_id'];
const ROWS = ['10', '25', '50', '100'];

/** @typedef {{name: string, enabled?: boolean, fields: {name: string}[]}} EventType */
/** @typedef {{id: string, type: string, timestamp: string, robot?: boolean, visitor?: string, data?: Record<string, any>}} RawEvent */
/** @typedef {{total: number, pages?: number, arguments?: {page?: number, start?: string, end?: string}, raw_messages?: RawEvent[]}} EventsAnswer */

/** @param {HTMLElement} root */
export function mount(root) {
  document.title = 'Events · Tally';
  const controls = createEventsControls();
  const results = createPanel({ title: 'Events', testid: 'events-results' });
  root.append(
    h('div', { class: 'page-head' }, h('div', {},
      h('h1', { tabindex: '-1' }, 'Raw events'),
      h('p', { class: 'lede' }, 'Every stored event, anonymised, as the open API serves it: filter by time, type and any field, and page through. Robot events are kept and badged; the statistics leave them out.'))),
    controls.form, results.el);

  // New events while a window that ends "now" is shown: offer to show them (rows never jump on their own).
  const fresh = createFreshButton(() => update());
  const page = { controls, results, fresh, summary: h('div', { class: 'events-summary' }), pagerTop: h('nav', { class: 'pager', 'aria-label': 'Pages, top' }), pagerBottom: h('nav', { class: 'pager', 'aria-label': 'Pages', dataset: { testid: 'events-pager' } }) };
  const eventsView = createView({
    pending() {
      results.loading();
      replace(page.summary);
    },
    /** @param {{apiUrl: string, params: URLSearchParams}} state @param {AbortSignal} signal @returns {Promise<EventsAnswer>} */
    load: ({ apiUrl }, signal) => request(apiUrl, { signal }),
    render: (answer, { apiUrl }) => renderEvents(page, answer, apiUrl),
    fail(e) {
      controls.showErrors(e);
      results.setTools();
      results.error(e);
    },
  });
  const view = createView({
    /** @param {unknown} _state @param {AbortSignal} signal @returns {Promise<EventType[]>} */
    load: async (_state, signal) => (await whenCurrent(signal, listTypes())).filter((/** @type {EventType} */ t) => t.enabled !== false),
    render(types, _state, signal) {
      const params = new URLSearchParams(location.search);
      const { isCustom, active } = controls.show(types, params);
      fresh.watch(!isCustom && (params.get('page') ?? '1') === '1' && controls.orderSelect.value === 'desc' && active.length === 0 ? params.getAll('type') : null);
      // The API request: the page's parameters, plus the browser's default window.
      const api = new URLSearchParams(params);
      if (!api.has('start') && !api.has('end') && !api.has('delta')) api.set('delta', DEFAULT_DELTA);
      return eventsView.run({ apiUrl: `/api/v1/events?${api}`, params }, signal);
    },
    fail: (e) => results.error(e),
  });
  const update = () => view.run(null);

  update();
  return { update, unmount() { view.abort(); fresh.unsubscribe(); } };
}

/**
 * The "↻ N new events: show" button, counting arrivals of the types watched while the newest events are shown.
 * @param {() => void} show
 */
function createFreshButton(show) {
  let fresh = 0;
  /** @type {string[] | null} the types whose arrivals count, or [] for all; null when the view is not "latest first" */
  let watching = null;
  const el = h('button', { type: 'button', class: 'btn btn-sm', hidden: true, dataset: { testid: 'events-fresh' }, onclick: show });
  const unsubscribe = onLive('stored', (counts) => {
    if (!watching) return;
    for (const c of counts) if (!watching.length || watching.includes(c.type)) fresh += c.events + c.robots;
    if (!fresh) return;
    el.hidden = false;
    el.textContent = `↻ ${fmtInt(fresh)} new ${fresh === 1 ? 'event' : 'events'}: show`;
  });
  return {
    el,
    unsubscribe,
    /** @param {string[] | null} types */
    watch(types) {
      fresh = 0;
      el.hidden = true;
      watching = types;
    },
  };
}

/**
 * The controls: time window (presets or custom), rows, order, types and field filters. Each change is a navigation.
 */
function createEventsControls() {
  const ids = { window: uid('window'), start: uid('start'), end: uid('end'), rows: uid('rows'), order: uid('order') };
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /** @param {string} name */
  const errorEl = (name) => (errors[name] = h('p', { class: 'field-error', id: uid(`err-${name}`), dataset: { testid: `error-${name}` } }));

  const windowSelect = h('select', { class: 'select', id: ids.window, dataset: { testid: 'events-window' }, 'aria-describedby': null });
  const startInput = h('input', { class: 'input', type: 'datetime-local', step: 1, id: ids.start, dataset: { testid: 'events-start' } });
  const endInput = h('input', { class: 'input', type: 'datetime-local', step: 1, id: ids.end, dataset: { testid: 'events-end' } });
  const rowsSelect = h('select', { class: 'select', id: ids.rows, dataset: { testid: 'events-rows' } }, ROWS.map((n) => h('option', { value: n }, n)));
  const orderSelect = h('select', { class: 'select', id: ids.order, dataset: { testid: 'events-order' } },
    h('option', { value: 'desc' }, 'Newest first'), h('option', { value: 'asc' }, 'Oldest first'));
  const typesBox = h('fieldset', { class: 'control-group', dataset: { testid: 'events-types' } }, h('legend', {}, 'Event types'), h('div', { class: 'checks' }), errorEl('type'));
  const filters = filterEditor({ testid: 'events-filters', label: 'Field filters' });
  const filtersError = errorEl('filters');
  const applyCustom = h('button', { type: 'button', class: 'btn', dataset: { testid: 'events-apply' } }, 'Apply');
  const custom = h('div', { class: 'custom-range' },
    h('div', { class: 'field wide' }, h('label', { for: ids.start }, 'Start (UTC)'), startInput),
    h('div', { class: 'field wide' }, h('label', { for: ids.end }, 'End (UTC)'), endInput),
    applyCustom);
  const windowError = errorEl('window');
  for (const [el, name] of /** @type {[HTMLElement, string][]} */ ([[windowSelect, 'window'], [startInput, 'window'], [endInput, 'window'], [rowsSelect, 'rows_per_page'], [orderSelect, 'order']])) {
    el.setAttribute('aria-describedby', (errors[name] ?? errorEl(name)).id);
  }

  typesBox.style.flexBasis = '100%';
  const form = h('form', { class: 'controls', 'aria-label': 'Which events', dataset: { testid: 'events-controls' } },
    h('div', { class: 'control-group' },
      h('div', { class: 'custom-range' }, h('div', { class: 'field auto' }, h('label', { for: ids.window }, 'Time window'), windowSelect), custom),
      windowError),
    h('div', { class: 'field' }, h('label', { for: ids.rows }, 'Rows per page'), rowsSelect, errors.rows_per_page),
    h('div', { class: 'field' }, h('label', { for: ids.order }, 'Order'), orderSelect, errors.order),
    typesBox,
    h('div', { class: 'control-group', style: { flexBasis: '100%' } }, filters.el, filtersError));
  form.addEventListener('submit', (e) => e.preventDefault());

  const c = { form, errors, windowSelect, startInput, endInput, rowsSelect, orderSelect, typesBox, filters, custom, typesKey: '' };
  wireEventsControls(c, applyCustom);
  return {
    form,
    orderSelect,
    /**
     * Shows the URL's state; returns what the view needs of it.
     * @param {EventType[]} types
     * @param {URLSearchParams} params
     */
    show: (types, params) => showControls(c, types, params),
    /** @param {unknown} e */
    showErrors: (e) => showErrors(c, e),
  };
}
/** @typedef {{form: HTMLFormElement, errors: Record<string, HTMLElement>, windowSelect: HTMLSelectElement, startInput: HTMLInputElement, endInput: HTMLInputElement, rowsSelect: HTMLSelectElement, orderSelect: HTMLSelectElement, typesBox: HTMLElement, filters: ReturnType<typeof filterEditor>, custom: HTMLElement, typesKey: string}} EventsControls */

/**
 * @param {EventsControls} c
 * @param {HTMLButtonElement} applyCustom
 */
function wireEventsControls(c, applyCustom) {
  const { windowSelect, startInput, endInput, rowsSelect, orderSelect, errors } = c;
  windowSelect.addEventListener('change', () => {
    if (windowSelect.value === 'custom') {
      c.custom.hidden = false;
      const now = new Date();
      if (!endInput.value) endInput.value = toLocalInput(now);
      if (!startInput.value) startInput.value = toLocalInput(new Date(now.getTime() - 3600_000));
      startInput.focus();
      return;
    }
    navigate(hrefWith({ delta: windowSelect.value, start: null, end: null, page: null }));
  });
  const apply = () => {
    const start = fromLocalInput(startInput.value);
    const end = fromLocalInput(endInput.value);
    errors.window.textContent = !start || !end ? 'Enter a start and an end.' : start > end ? 'The start is after the end.' : '';
    if (errors.window.textContent) return;
    navigate(hrefWith({ start, end, delta: null, page: null }));
  };
  applyCustom.addEventListener('click', apply);
  for (const input of [startInput, endInput]) input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); apply(); } });
  rowsSelect.addEventListener('change', () => navigate(hrefWith({ rows_per_page: rowsSelect.value === '25' ? null : rowsSelect.value, page: null })));
  orderSelect.addEventListener('change', () => navigate(hrefWith({ order: orderSelect.value === 'desc' ? null : orderSelect.value, page: null })));
}

/**
 * Fields people filter by first; raw identifiers (rarely stored) last.
 * @param {EventType[]} types
 */
function orderedFields(types) {
  /** @type {string[]} */
  const all = [];
  for (const t of types) for (const f of t.fields) if (!all.includes(f.name)) all.push(f.name);
  const first = FIRST_FIELDS.filter((f) => all.includes(f));
  const last = LAST_FIELDS.filter((f) => all.includes(f));
  return [...first, ...all.filter((f) => !first.includes(f) && !last.includes(f)), ...last];
}

/**
 * Controls show the URL's state, with no errors from before.
 * @param {EventsControls} c
 * @param {EventType[]} types
 * @param {URLSearchParams} params
 */
function showControls(c, types, params) {
  const fields = orderedFields(types);
  const active = readFilters(params, fields);
  const isCustom = params.has('start') || params.has('end');
  const delta = params.get('delta') ?? DEFAULT_DELTA;
  /** @type {[string | number, string][]} */
  const windows = [...WINDOWS];
  if (!isCustom && !windows.some(([s]) => String(s) === delta)) windows.push([delta, `Last ${fmtInt(Number(delta))} seconds`]);
  replace(c.windowSelect, windows.map(([s, label]) => h('option', { value: String(s) }, label)), h('option', { value: 'custom' }, 'Custom…'));
  c.windowSelect.value = isCustom ? 'custom' : delta;
  c.custom.hidden = !isCustom;
  if (isCustom) {
    c.startInput.value = toLocalInput(params.get('start'));
    c.endInput.value = toLocalInput(params.get('end'));
  }
  const rows = params.get('rows_per_page');
  c.rowsSelect.value = rows != null && ROWS.includes(rows) ? rows : '25';
  c.orderSelect.value = params.get('order') === 'asc' ? 'asc' : 'desc';
  renderTypes(c, types, params.getAll('type'));
  c.filters.update({ fields, filters: active, suggestions: {} });
  for (const el of Object.values(c.errors)) el.textContent = '';
  for (const el of c.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  return { isCustom, active };
}

/**
 * @param {EventsControls} c
 * @param {EventType[]} types
 * @param {string[]} selected
 */
function renderTypes(c, types, selected) {
  const key = JSON.stringify([types.map((t) => t.name), selected]);
  if (key === c.typesKey) return;
  c.typesKey = key;
  replace(/** @type {HTMLElement} */ (c.typesBox.querySelector('.checks')), types.map((t) => {
    const id = uid('etype');
    return h('label', { class: 'check', for: id },
      h('input', {
        type: 'checkbox', id, value: t.name, checked: selected.includes(t.name), dataset: { testid: `events-type-${t.name}` },
        onchange: () => {
          const checked = [.../** @type {NodeListOf<HTMLInputElement>} */ (c.typesBox.querySelectorAll('input:checked'))].map((x) => x.value);
          navigate(hrefWith({ type: checked.length ? checked : null, page: null }));
        },
      }),
      t.name);
  }));
}

/**
 * The API's errors by the controls they concern.
 * @param {EventsControls} c
 * @param {unknown} e
 */
function showErrors(c, e) {
  if (!(e instanceof ApiError)) return;
  for (const [name, messages] of Object.entries(e.errors)) {
    const text = [messages].flat().join(' ');
    const key = name === 'start' || name === 'end' || name === 'delta' ? 'window' : name in c.errors ? name : 'filters';
    c.errors[key].textContent = `${name}: ${text}`;
    /** @type {Record<string, HTMLElement>} */
    const controls = { window: c.windowSelect.value === 'custom' ? (name === 'end' ? c.endInput : c.startInput) : c.windowSelect, rows_per_page: c.rowsSelect, order: c.orderSelect };
    controls[key]?.setAttribute('aria-invalid', 'true');
  }
}

/**
 * @typedef {object} EventsPage
 * @property {ReturnType<typeof createEventsControls>} controls
 * @property {import('../panels.js').Panel} results
 * @property {ReturnType<typeof createFreshButton>} fresh
 * @property {HTMLElement} summary
 * @property {HTMLElement} pagerTop
 * @property {HTMLElement} pagerBottom
 */

/**
 * @param {EventsPage} page
 * @param {EventsAnswer} answer
 * @param {string} apiUrl
 */
function renderEvents({ results, summary, fresh, pagerTop, pagerBottom }, answer, apiUrl) {
  const args = answer.arguments ?? {};
  const page = Number(args.page ?? 1);
  const pages = Math.max(1, answer.pages ?? 1);
  results.setSub(`${fmtTime(args.start)} to ${fmtTime(args.end)}`);
  results.setTools(...exportTools({
    label: `events, page ${page}`, testid: 'events',
    sources: [{ key: 'events', label: 'Events', url: apiUrl, filename: `events-${String(args.start).slice(0, 19).replace(/:/g, '')}-p${page}.csv` }],
  }));
  replace(summary,
    h('div', { class: 'pager' },
      h('p', { class: 'events-count', dataset: { testid: 'events-total', total: answer.total }, 'aria-live': 'polite' },
        `${fmtInt(answer.total)} ${answer.total === 1 ? 'event' : 'events'}`),
      fresh.el),
    pager(pagerTop, page, pages));
  if (!answer.raw_messages?.length) {
    results.show(summary, emptyBox('No events match.', 'Widen the time window or remove filters.'));
    return;
  }
  const table = eventsTable(answer.raw_messages);
  results.show(summary, h('div', { class: 'table-wrap' }, table), pager(pagerBottom, page, pages));
  results.body.dataset.apiUrl = apiUrl;
}

/**
 * First, previous, "Page N of M", next and last, as links to the same view.
 * @param {HTMLElement} nav
 * @param {number} page
 * @param {number} pages
 */
function pager(nav, page, pages) {
  /**
   * @param {string} label
   * @param {number} target
   * @param {boolean} disabled
   * @param {string} testid
   * @param {string} [rel]
   */
  const link = (label, target, disabled, testid, rel) => h('a', {
    class: 'btn btn-sm', href: hrefWith({ page: target === 1 ? null : String(target) }),
    'aria-disabled': disabled ? 'true' : null, tabindex: disabled ? '-1' : null, rel: rel ?? null, dataset: { testid },
  }, label);
  return replace(nav,
    link('« First', 1, page <= 1, 'page-first'),
    link('‹ Previous', page - 1, page <= 1, 'page-prev', 'prev'),
    h('span', { class: 'page-of', dataset: { testid: 'page-of' } }, `Page ${fmtInt(page)} of ${fmtInt(pages)}`),
    link('Next ›', page + 1, page >= pages, 'page-next', 'next'),
    link('Last »', pages, page >= pages, 'page-last'));
}

function eventsTable(messages) {
  const head = ['', 'Time (UTC)', 'Type', 'Item', 'Country', 'Institution', 'Visitor'];
  const body = h('tbody', {});
  for (const m of messages) {
    const detailId = uid('event');
    const data = m.data ?? {};
    const button = h('button', { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId, dataset: { testid: 'event-expand' } },
      icons.chevron(), h('span', { class: 'visually-hidden' }, `Show data of event ${m.id}`));
    const detail = h('tr', { class: 'detail', id: detailId, hidden: true },
      h('td', { colspan: head.length }, h('pre', { dataset: { testid: 'event-json' } }, highlightJson(m))));
    button.addEventListener('click', () => {
      const open = button.getAttribute('aria-expanded') !== 'true';
      button.setAttribute('aria-expanded', String(open));
      detail.hidden = !open;
    });
    const item = data.item_id ?? data.topic ?? data.search_type ?? '';
    body.append(
      h('tr', { dataset: { id: m.id, type: m.type, robot: String(Boolean(m.robot)) } },
        h('td', {}, button),
        h('th', { scope: 'row' }, h('time', { datetime: m.timestamp }, fmtTime(m.timestamp).replace(' UTC', ''))),
        h('td', {}, h('span', { class: 'badge type' }, typeLabel(m.type)), ' ', m.robot ? h('span', { class: 'badge robot', title: 'Flagged as a robot: not counted in statistics', dataset: { testid: 'robot-badge' } }, 'robot') : null),
        h('td', { class: 'wrap' }, data.item_id ? h('a', { href: `/items/${encodeURIComponent(data.item_id)}` }, data.item_name ? `${data.item_name}` : data.item_id) : item, data.item_id && data.item_name ? h('small', { class: 'mono', style: { display: 'block', color: 'var(--muted)' } }, data.item_id) : null),
        h('td', {}, data.country ? h('span', { title: countryName(data.country) }, data.country) : '—'),
        h('td', {}, data.institution ?? '—'),
        h('td', { class: 'mono' }, m.visitor ?? '')),
      detail);
  }
  return h('table', { class: 'data events', dataset: { testid: 'events-table' } },
    h('caption', { class: 'visually-hidden' }, 'Raw events; the first button of each row shows its data'),
    h('thead', {}, h('tr', {}, head.map((label, i) => h('th', { scope: 'col' }, i === 0 ? h('span', { class: 'visually-hidden' }, 'Details') : label)))),
    body);
}

/** JSON with coloured keys, strings and numbers, built as DOM nodes (no HTML strings). */
export function highlightJson(value) {
  const text = JSON.stringify(value, null, 2);
  const out = document.createDocumentFragment();
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) out.append(text.slice(last, m.index));
    const cls = m[1] ? (m[2] ? 'json-key' : 'json-string') : m[3] ? 'json-bool' : 'json-number';
    out.append(h('span', { class: cls }, m[1] ?? m[0]));
    if (m[2]) out.append(m[2]);
    last = re.lastIndex;
  }
  out.append(text.slice(last));
  return out;
}

/** An ISO time or epoch seconds → the value of a datetime-local input, in UTC. */
function toLocalInput(value) {
  if (value == null || value === '') return '';
  const date = value instanceof Date ? value : /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(/Z|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(0, 19);
}

/** A datetime-local value read as UTC → ISO with Z. */
function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace('.000Z', 'Z');
}

