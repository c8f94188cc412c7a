// Saved queries (/queries): named queries kept by the server, each with an embeddable chart and an API
// endpoint. The form creates one from scratch or from a dashboard view ("Save this view" links here
// with ?new=1&stat=…&view=…&chart=…&p.PARAM=…). Writing needs an API key, kept in sessionStorage.

import { h, replace, uid, debounce, icons, escapeHtml } from '../dom.js';
import { request, listStats, statUrl, invalidate, ApiError, slug, downloadCsv } from '../api.js';
import { createPanel, errorBox, emptyBox, toast } from '../panels.js';
import { isDay, todayUTC, addDays } from '../state.js';
import { navigate } from '../router.js';
import { renderSaved } from '../savedchart.js';
import { fieldLabel, metricLabel } from '../discover.js';

const KEY_STORAGE = 'tally.apiKey';
const CHARTS = [['area', 'Area'], ['line', 'Line'], ['bar', 'Bar'], ['pie', 'Pie'], ['table', 'Table']];
const RANGES = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last 365 days'], ['fixed', 'Fixed dates']];

function storedKey() {
  try { return sessionStorage.getItem(KEY_STORAGE) ?? ''; } catch { return ''; }
}
function rememberKey(key) {
  try { sessionStorage.setItem(KEY_STORAGE, key); } catch { /* not remembered */ }
}

export function mount(root) {
  document.title = 'Saved queries · Tally';
  const listPanel = h('section', { class: 'query-list', 'aria-labelledby': 'saved-list-title', dataset: { testid: 'query-list' } });
  const listHead = h('div', { class: 'section-head' }, h('h2', { id: 'saved-list-title' }, 'Saved'), h('a', { class: 'btn btn-primary', href: '#new-query', dataset: { testid: 'new-query' } }, '+ New saved query'));
  const form = buildForm();
  root.append(
    h('div', { class: 'page-head' }, h('div', {},
      h('h1', { tabindex: '-1' }, 'Saved queries'),
      h('p', { class: 'lede' }, 'Save a query once, and it has a chart to embed in any page and an API endpoint that always answers with fresh numbers. Relative ranges such as "last 30 days" move with today.'))),
    listHead, listPanel, form.panel.el);

  let gen = 0;
  async function update() {
    const mine = ++gen;
    const params = new URLSearchParams(location.search);
    form.load(params);
    replace(listPanel, h('div', { class: 'panel' }, h('div', { class: 'panel-body' }, h('div', { class: 'skeleton skeleton-line' }), h('div', { class: 'skeleton skeleton-line' }))));
    let list;
    try {
      list = await request('/api/v1/queries');
    } catch (e) {
      if (mine === gen) replace(listPanel, errorBox(e));
      return;
    }
    if (mine !== gen) return;
    const stats = await listStats().catch(() => []);
    if (mine !== gen) return;
    if (!list.length) replace(listPanel, emptyBox('No saved queries yet.', 'Use the form below, or "Save this view" on the overview or an item page.'));
    else replace(listPanel, list.map((q) => queryCard(q, stats)));
    if (params.get('new') === '1' || location.hash === '#new-query') {
      form.panel.el.scrollIntoView({ block: 'start' });
      form.focus();
    }
  }

  // ---------- one saved query ----------
  function queryCard(q, stats) {
    const origin = location.origin;
    const embedUrl = `${origin}${q.links?.embed ?? `/embed/${q.name}`}`;
    const resultUrl = q.links?.result ?? `/api/v1/queries/${q.name}/result`;
    const snippet = `<iframe src="${embedUrl}" title="${escapeHtml(q.title || q.name)}" width="640" height="360" style="border:0" loading="lazy"></iframe>`;
    const panel = createPanel({ title: q.title || q.name, testid: `query-${q.name}`, className: 'query-card' });
    panel.setSub(`${q.name} · ${q.stat} · ${q.view} · ${q.chart}`);
    const del = h('button', { type: 'button', class: 'btn btn-sm btn-danger', dataset: { testid: `delete-${q.name}` }, 'aria-label': `Delete saved query ${q.title || q.name}` }, 'Delete');
    let armed = 0;
    del.addEventListener('click', async () => {
      if (!armed) {
        armed = setTimeout(() => { armed = 0; del.textContent = 'Delete'; }, 5000);
        del.textContent = 'Confirm delete';
        del.setAttribute('aria-label', `Confirm: delete ${q.title || q.name}`);
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
        toast(`Deleted ${q.title || q.name}`);
        update();
      } catch (e) {
        del.disabled = false;
        del.textContent = 'Delete';
        toast(`Could not delete: ${e.message}`, 'bad');
        if (e.status === 401 || e.status === 403) form.focusKey(e.message);
      }
    });
    panel.setTools(
      h('a', { class: 'btn btn-sm', href: q.links?.embed ?? `/embed/${q.name}`, target: '_blank', rel: 'noopener', dataset: { testid: `open-embed-${q.name}` } }, 'Open chart'),
      h('button', {
        type: 'button', class: 'btn btn-sm', 'aria-label': `Download ${q.title || q.name} as CSV`, dataset: { testid: `csv-${q.name}` },
        onclick: () => downloadCsv(resultUrl, `${q.name}.csv`).catch((e) => toast(`CSV download failed: ${e.message}`, 'bad')),
      }, icons.download(), 'CSV'),
      del);
    const preview = h('details', { class: 'preview' }, h('summary', {}, 'Preview'));
    preview.addEventListener('toggle', () => {
      if (preview.open && !preview.querySelector('iframe')) preview.append(h('iframe', { class: 'embed-frame', src: q.links?.embed ?? `/embed/${q.name}`, title: `Preview of ${q.title || q.name}`, loading: 'lazy' }));
    }, { once: false });
    const paramText = new URLSearchParams(Object.entries(q.params ?? {}).flatMap(([k, v]) => [].concat(v).map((x) => [k, x]))).toString();
    const stat = stats.find((s) => s.name === q.stat);
    panel.show(
      h('dl', {},
        h('dt', {}, 'Embed URL'), h('dd', {}, copyRow(embedUrl, `Embed URL of ${q.title || q.name}`, `embed-url-${q.name}`)),
        h('dt', {}, 'HTML'), h('dd', {}, copyRow(snippet, `iframe snippet of ${q.title || q.name}`, `snippet-${q.name}`, true)),
        h('dt', {}, 'API'), h('dd', {}, copyRow(`${origin}${resultUrl}`, `API URL of ${q.title || q.name}`, `api-url-${q.name}`)),
        h('dt', {}, 'Answers'), h('dd', {}, h('span', {}, `${q.view === 'totals' ? 'Totals' : 'Timeline'} of `, h('code', {}, q.stat), stat ? ` (${metricLabel(stat.metric, stat.event_type).toLowerCase()})` : '', paramText ? [' with ', h('code', {}, paramText)] : '')),
      ),
      preview);
    return panel.el;
  }

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
  function buildForm() {
    const panel = createPanel({ title: 'New saved query', testid: 'query-form' });
    panel.el.id = 'new-query';
    const f = {};
    const errors = {};
    const field = (name, label, control, hint) => {
      const id = uid(`q-${name}`);
      control.id = id;
      errors[name] = h('p', { class: 'field-error', id: `${id}-error`, dataset: { testid: `q-error-${name}` } });
      control.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
      f[name] = control;
      return h('div', { class: 'field', dataset: { field: name } }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, errors[name]);
    };
    const input = (props) => h('input', { class: 'input', ...props });
    const select = (options, props = {}) => h('select', { class: 'select', ...props }, options.map(([v, l]) => h('option', { value: v }, l)));

    const statSelect = h('select', { class: 'select', dataset: { testid: 'q-stat' } });
    const filtersBox = h('div', { class: 'form-grid wide' });
    const previewBox = h('div', { class: 'preview', dataset: { testid: 'q-preview' } });
    const status = h('p', { class: 'form-status', role: 'status', dataset: { testid: 'q-status' } });
    let nameEdited = false;
    let stats = [];

    const grid = h('div', { class: 'form-grid' },
      field('title', 'Title', input({ type: 'text', maxlength: 200, placeholder: 'Views, last 30 days', dataset: { testid: 'q-title' } })),
      field('name', 'Name (used in URLs)', input({ type: 'text', maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._-]*', autocomplete: 'off', spellcheck: 'false', dataset: { testid: 'q-name' } }), 'Letters, digits, dot, dash and underscore.'),
      field('stat', 'Registered query', statSelect),
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

    // Last 30 days unless a view says otherwise (also after "Clear").
    f.range.querySelector('option[value="30"]').defaultSelected = true;
    f.range.value = '30';
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'q-save' } }, 'Save query');
    const el = h('form', { novalidate: true, 'aria-label': 'New saved query' }, grid,
      h('div', { class: 'form-actions' }, submit, h('button', { type: 'reset', class: 'btn' }, 'Clear'), status),
      previewBox);
    panel.show(el);
    panel.setSub('Pick a registered query and its parameters; the preview shows what the chart will be.');

    f.title.addEventListener('input', () => { if (!nameEdited) f.name.value = slug(f.title.value).slice(0, 64); });
    f.name.addEventListener('input', () => { nameEdited = f.name.value !== ''; });
    f.stat.addEventListener('change', () => { onStat(); schedulePreview(); });
    f.view.addEventListener('change', () => { f.view.dataset.touched = '1'; sync(); schedulePreview(); });
    f.range.addEventListener('change', () => { sync(); schedulePreview(); });
    el.addEventListener('input', (e) => { if (e.target !== f.key && e.target !== f.title && e.target !== f.name) schedulePreview(); });
    el.addEventListener('reset', () => setTimeout(() => { nameEdited = false; delete f.view.dataset.touched; f.key.value = storedKey(); clearErrors(); onStat(); }, 0));
    el.addEventListener('submit', (e) => { e.preventDefault(); save(); });

    function onStat() {
      const stat = stats.find((s) => s.name === f.stat.value);
      if (!stat) return;
      if (!f.view.dataset.touched) f.view.value = stat.kind === 'terms' ? 'totals' : 'timeline';
      replace(f.groupBy, h('option', { value: '' }, stat.field ? `${fieldLabel(stat.field)} (the query's field)` : 'Default'), (stat.filters ?? []).filter((x) => x !== stat.field).map((x) => h('option', { value: x }, fieldLabel(x))));
      replace(filtersBox, (stat.filters ?? []).map((name) => {
        const id = uid('q-filter');
        const opId = uid('q-filter-op');
        errors[name] = h('p', { class: 'field-error', dataset: { testid: `q-error-${name}` } });
        return h('div', { class: 'field', dataset: { filter: name } },
          h('label', { for: id }, `Filter: ${fieldLabel(name)}`),
          h('div', { class: 'copy-row' },
            h('label', { class: 'visually-hidden', for: opId }, `${fieldLabel(name)} comparison`),
            h('select', { class: 'select', id: opId, dataset: { role: 'op', testid: `q-filter-op-${name}` } }, h('option', { value: 'is' }, 'is'), h('option', { value: 'not' }, 'is not')),
            h('input', { class: 'input', id, dataset: { role: 'value', testid: `q-filter-${name}` }, placeholder: 'any; several: a, b' })),
          errors[name]);
      }));
      sync();
    }

    function sync() {
      const timeline = f.view.value === 'timeline';
      const fixed = f.range.value === 'fixed';
      f.interval.closest('.field').hidden = !timeline;
      f.count.closest('.field').hidden = timeline;
      f.groupBy.closest('.field').hidden = timeline;
      f.dateStart.closest('.field').hidden = !fixed;
      f.dateEnd.closest('.field').hidden = !fixed;
      if (fixed && !f.dateStart.value) {
        f.dateEnd.value = todayUTC();
        f.dateStart.value = addDays(todayUTC(), -29);
      }
    }

    /** The params object sent to the server. */
    function params() {
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
        const values = box.querySelector('[data-role=value]').value.split(',').map((v) => v.trim()).filter(Boolean);
        if (!values.length) continue;
        const name = (box.querySelector('[data-role=op]').value === 'not' ? 'not_' : '') + box.dataset.filter;
        p[name] = values;
      }
      return p;
    }

    let previewChart = null;
    let previewGen = 0;
    const schedulePreview = debounce(async () => {
      const mine = ++previewGen;
      const stat = stats.find((s) => s.name === f.stat.value);
      if (!stat) return;
      const url = statUrl(stat.name, f.view.value, params());
      let result;
      try {
        result = await request(url);
      } catch (e) {
        if (mine !== previewGen) return;
        previewChart?.dispose();
        previewChart = null;
        replace(previewBox, errorBox(e));
        return;
      }
      if (mine !== previewGen) return;
      previewChart?.dispose();
      const host = h('div', { class: 'chart-wrap' });
      replace(previewBox, h('p', { class: 'hint' }, 'Preview of ', h('a', { href: url, target: '_blank', rel: 'noopener' }, url)), host);
      previewChart = renderSaved(host, { chart: f.chart.value, title: f.title.value, params: params() }, result, { name: metricLabel(stat.metric, stat.event_type), testid: 'q-preview-chart' });
    }, 300);

    function clearErrors() {
      for (const e of Object.values(errors)) e.textContent = '';
      for (const c of el.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
      status.textContent = '';
      status.className = 'form-status';
    }

    function showError(name, message) {
      const key = name.replace(/^params\./, '').replace(/^not_/, '');
      const target = errors[key] ?? (key === 'days' ? errors.range : null);
      const control = f[key] ?? (key === 'days' ? f.range : filtersBox.querySelector(`[data-filter="${key}"] [data-role=value]`));
      control?.setAttribute('aria-invalid', 'true');
      if (target) target.textContent = message;
      return Boolean(target);
    }

    async function save() {
      clearErrors();
      const name = f.name.value.trim();
      const key = f.key.value.trim();
      if (!name) showError('name', 'Give the query a name.');
      if (!key) showError('key', 'Writing needs an API key with the write role.');
      if (!name || !key) {
        status.textContent = 'Please correct the fields marked.';
        status.className = 'form-status bad';
        el.querySelector('[aria-invalid="true"]')?.focus();
        return;
      }
      const body = { title: f.title.value.trim() || undefined, stat: f.stat.value, view: f.view.value, params: params(), chart: f.chart.value };
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
        else update();
        status.textContent = `Saved “${body.title ?? name}”.`;
        status.className = 'form-status ok';
      } catch (e) {
        status.className = 'form-status bad';
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          showError('key', e.message);
          status.textContent = e.problem.title ?? 'Not allowed';
          f.key.focus();
        } else if (e instanceof ApiError && Object.keys(e.errors).length) {
          const unplaced = Object.entries(e.errors).filter(([field, messages]) => !showError(field, [].concat(messages).join(' ')));
          status.textContent = `${e.problem.title ?? 'Not saved'}${unplaced.length ? `: ${unplaced.map(([k, v]) => `${k} ${[].concat(v).join(' ')}`).join('; ')}` : ''}`;
          el.querySelector('[aria-invalid="true"]')?.focus();
        } else {
          status.textContent = e.message;
        }
      } finally {
        submit.disabled = false;
      }
    }

    let loaded = '';
    return {
      panel,
      dispose: () => previewChart?.dispose(),
      key: () => f.key.value.trim() || storedKey(),
      focus: () => f.title.focus(),
      focusKey(message) {
        showError('key', message);
        f.key.focus();
      },
      /** Fills the stat list, and the fields from ?new=1&stat=…&p.… when present. */
      async load(query) {
        const signature = query.toString();
        if (signature === loaded && stats.length) return;
        loaded = signature;
        try {
          stats = await listStats();
        } catch (e) {
          replace(statSelect, h('option', { value: '' }, 'Could not load the registered queries'));
          status.textContent = e.message;
          return;
        }
        const groups = new Map();
        for (const s of stats) (groups.get(s.event_type) ?? groups.set(s.event_type, []).get(s.event_type)).push(s);
        replace(statSelect, [...groups].map(([type, list]) => h('optgroup', { label: type }, list.map((s) => h('option', { value: s.name }, `${s.name} (${s.kind}, ${s.metric})`)))));
        if (query.get('new') !== '1') {
          onStat();
          schedulePreview();
          return;
        }
        if (stats.some((s) => s.name === query.get('stat'))) f.stat.value = query.get('stat');
        onStat();
        if (['timeline', 'totals'].includes(query.get('view'))) { f.view.value = query.get('view'); f.view.dataset.touched = '1'; }
        if (CHARTS.some(([c]) => c === query.get('chart'))) f.chart.value = query.get('chart');
        if (query.get('title')) {
          f.title.value = query.get('title');
          f.name.value = slug(query.get('title')).slice(0, 64);
        }
        const days = query.get('p.days');
        if (RANGES.some(([r]) => r === days)) f.range.value = days;
        else if (isDay(query.get('p.dateStart'))) {
          f.range.value = 'fixed';
          f.dateStart.value = query.get('p.dateStart');
          f.dateEnd.value = isDay(query.get('p.dateEnd')) ? query.get('p.dateEnd') : todayUTC();
        } else if (days) {
          f.range.value = 'fixed';
          f.dateEnd.value = todayUTC();
          f.dateStart.value = addDays(todayUTC(), -(Number(days) - 1));
        }
        if (query.get('p.interval')) f.interval.value = query.get('p.interval') === 'month' ? 'month' : 'day';
        if (query.get('p.count')) f.count.value = query.get('p.count');
        for (const box of filtersBox.querySelectorAll('[data-filter]')) {
          const name = box.dataset.filter;
          const yes = query.getAll(`p.${name}`);
          const no = query.getAll(`p.not_${name}`);
          if (yes.length || no.length) {
            box.querySelector('[data-role=op]').value = yes.length ? 'is' : 'not';
            box.querySelector('[data-role=value]').value = (yes.length ? yes : no).join(', ');
          }
        }
        sync();
        panel.setTitle('Save this view');
        schedulePreview();
      },
    };
  }

  window.addEventListener('hashchange', onHash);
  function onHash() {
    if (location.hash === '#new-query') {
      form.panel.el.scrollIntoView({ block: 'start' });
      form.focus();
    }
  }

  update();
  return {
    update,
    unmount() {
      gen++;
      form.dispose();
      window.removeEventListener('hashchange', onHash);
    },
  };
}

