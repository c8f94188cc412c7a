// The controls bar of the overview and item pages: date range (presets and custom), interval, event
// types and field filters. Every change is a navigation to a new URL, so the URL is the state.

import { h, replace, uid } from './dom.js';
import { typeLabel, countryName } from './format.js';
import { typeColorIndex, seriesColor } from './colors.js';
import { PRESETS, isDay, hrefWith, withParams } from './state.js';
import { navigate } from './router.js';
import { segmented } from './panels.js';
import { fieldLabel } from './discover.js';

/**
 * What the controls show: the range, and on the overview the event types and field filters.
 * @typedef {object} ControlsState
 * @property {import('./state.js').Range} range
 * @property {string[]} [allTypes]
 * @property {string[]} [types]
 * @property {string[]} [fields]
 * @property {import('./state.js').Filter[]} [filters]
 * @property {Record<string, string[]>} [suggestions] values to offer per field
 */

/**
 * options: {types: bool, filters: bool, testid}. Returns {el, update(state)} where state is
 * {range, allTypes, types, fields, filters, suggestions: {field: [values]}}.
 * @param {{types?: boolean, filters?: boolean, testid?: string}} [options]
 */
export function createControls(options = {}) {
  const testid = options.testid ?? 'controls';
  const el = h('form', { class: 'controls', dataset: { testid }, 'aria-label': 'What to show', novalidate: true });
  el.addEventListener('submit', (e) => e.preventDefault());

  // Range presets: a radio group (Tab in, arrows across, Space or Enter to choose).
  const presets = segmented({
    legend: 'Date range', name: `${testid}-range`, testid: 'range',
    options: PRESETS.map((p) => ({ value: p.id, label: p.label, title: p.long })),
    value: null,
    onChange: (value) => navigate(hrefWith({ range: value, from: null, to: null })),
  });

  // Custom range: two date inputs and Apply.
  const fromId = uid('from');
  const toId = uid('to');
  const fromInput = h('input', { class: 'input', type: 'date', id: fromId, name: 'from', dataset: { testid: 'range-from' }, required: true });
  const toInput = h('input', { class: 'input', type: 'date', id: toId, name: 'to', dataset: { testid: 'range-to' }, required: true });
  const rangeError = h('p', { class: 'field-error', id: uid('range-error'), 'aria-live': 'polite', dataset: { testid: 'range-error' } });
  fromInput.setAttribute('aria-describedby', rangeError.id);
  toInput.setAttribute('aria-describedby', rangeError.id);
  const apply = () => {
    const from = fromInput.value;
    const to = toInput.value;
    let problem = '';
    if (!isDay(from)) problem = 'Enter a start date.';
    else if (!isDay(to)) problem = 'Enter an end date.';
    else if (from > to) problem = 'The start date is after the end date.';
    rangeError.textContent = problem;
    fromInput.setAttribute('aria-invalid', String(!isDay(from) || (isDay(to) && from > to)));
    toInput.setAttribute('aria-invalid', String(!isDay(to)));
    if (problem) return;
    navigate(hrefWith({ range: null, from, to }));
  };
  const customForm = h('fieldset', { class: 'control-group' },
    h('legend', { class: 'visually-hidden' }, 'Custom range'),
    h('div', { class: 'custom-range' },
      h('div', { class: 'field' }, h('label', { for: fromId }, 'From'), fromInput),
      h('div', { class: 'field' }, h('label', { for: toId }, 'To'), toInput),
      h('button', { type: 'button', class: 'btn', dataset: { testid: 'range-apply' }, onclick: apply }, 'Apply')),
    rangeError);
  for (const input of [fromInput, toInput]) {
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); apply(); } });
  }

  const interval = segmented({
    legend: 'Interval', name: `${testid}-interval`, testid: 'interval',
    options: [{ value: 'day', label: 'Day' }, { value: 'month', label: 'Month' }],
    value: 'day',
    onChange: (value) => navigate(hrefWith({ interval: value })),
  });

  const typesGroup = options.types ? h('fieldset', { class: 'control-group compact', dataset: { testid: 'types' } }, h('legend', {}, 'Event types'), h('div', { class: 'checks' })) : null;
  const filters = options.filters ? filterEditor() : null;
  const filtersGroup = filters?.el ?? null;
  el.append(presets.el, customForm, interval.el);
  if (typesGroup) el.append(typesGroup);
  if (filtersGroup) el.append(filtersGroup);

  let lastTypesKey = '';

  /**
   * @param {HTMLElement} group
   * @param {ControlsState} state
   */
  function renderTypes(group, state) {
    const key = JSON.stringify([state.allTypes, state.types]);
    if (key === lastTypesKey) return;
    lastTypesKey = key;
    replace(/** @type {HTMLElement} */ (group.querySelector('.checks')), (state.allTypes ?? []).map((type, i) => {
      const id = uid('type');
      const input = h('input', {
        type: 'checkbox', id, value: type, checked: state.types?.includes(type), dataset: { testid: `type-${type}` },
        onchange: () => {
          const checked = [.../** @type {NodeListOf<HTMLInputElement>} */ (group.querySelectorAll('input:checked'))].map((x) => x.value);
          if (checked.length === 0) { input.checked = true; return; }
          navigate(hrefWith({ types: checked.length === state.allTypes?.length ? null : checked.join(',') }));
        },
      });
      return h('label', { class: 'check', for: id }, input,
        h('span', { class: 'swatch', style: { background: seriesColor(typeColorIndex(type, i)) }, 'aria-hidden': 'true' }),
        typeLabel(type));
    }));
  }

  return {
    el,
    /** @param {ControlsState} state */
    update(state) {
      presets.set(state.range.preset);
      // Keep what the user is typing; otherwise show the range in effect.
      if (document.activeElement !== fromInput) fromInput.value = state.range.from;
      if (document.activeElement !== toInput) toInput.value = state.range.to;
      rangeError.textContent = '';
      fromInput.removeAttribute('aria-invalid');
      toInput.removeAttribute('aria-invalid');
      interval.set(state.range.interval);
      if (typesGroup) renderTypes(typesGroup, state);
      if (filters) filters.update({ fields: state.fields ?? [], filters: state.filters ?? [], suggestions: state.suggestions });
    },
  };
}

/**
 * Field filters as removable chips plus an "add filter" row (field, is / is not, value). Changing them
 * navigates to the current URL with FIELD=v or not_FIELD=v added or removed (and page reset).
 * update({fields, filters, suggestions}).
 */
/** @param {{testid?: string, label?: string}} [options] */
export function filterEditor({ testid = 'filters', label = 'Filters' } = {}) {
  const filtersGroup = h('div', { class: 'control-group', dataset: { testid } });
  let lastFiltersKey = '';

  /** @param {{fields: string[], filters: import('./state.js').Filter[], suggestions?: Record<string, string[]>}} state */
  function update(state) {
    const key = JSON.stringify([state.fields, state.filters, state.suggestions]);
    if (key === lastFiltersKey) return;
    lastFiltersKey = key;
    const fieldId = uid('filter-field');
    const opId = uid('filter-op');
    const valueId = uid('filter-value');
    const listId = uid('filter-values');
    const fieldSelect = h('select', { class: 'select', id: fieldId, dataset: { testid: 'filter-field' } },
      state.fields.map((f) => h('option', { value: f }, fieldLabel(f))));
    const opSelect = h('select', { class: 'select', id: opId, dataset: { testid: 'filter-op' } },
      h('option', { value: 'is' }, 'is'), h('option', { value: 'not' }, 'is not'));
    const valueInput = h('input', { class: 'input', id: valueId, list: listId, autocomplete: 'off', placeholder: 'e.g. DE', dataset: { testid: 'filter-value' } });
    const datalist = h('datalist', { id: listId });
    const fillSuggestions = () => {
      const values = state.suggestions?.[fieldSelect.value] ?? [];
      replace(datalist, values.map((v) => h('option', { value: v }, fieldSelect.value === 'country' ? countryName(v) : v)));
      valueInput.placeholder = fieldSelect.value === 'country' ? 'e.g. DE' : fieldSelect.value === 'item_id' ? 'item id' : 'value';
    };
    fieldSelect.addEventListener('change', fillSuggestions);
    fillSuggestions();
    const add = () => {
      const value = valueInput.value.trim();
      if (!value) { valueInput.focus(); return; }
      const name = (opSelect.value === 'not' ? 'not_' : '') + fieldSelect.value;
      const params = withParams({});
      if (!params.getAll(name).includes(value)) params.append(name, value);
      params.delete('page');
      navigate(`${location.pathname}?${params}`);
    };
    valueInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } });
    const chips = state.filters.map((f) => {
      const text = `${fieldLabel(f.field)} ${f.negated ? 'is not' : 'is'} ${f.field === 'country' ? `${countryName(f.value)} (${f.value})` : f.value}`;
      return h('span', { class: `chip${f.negated ? ' negated' : ''}`, dataset: { testid: `filter-chip-${f.field}` } },
        h('span', {}, text),
        h('button', {
          type: 'button', 'aria-label': `Remove filter: ${text}`, title: 'Remove filter',
          onclick: () => {
            const name = (f.negated ? 'not_' : '') + f.field;
            const params = withParams({});
            const rest = params.getAll(name).filter((v) => v !== f.value);
            params.delete(name);
            rest.forEach((v) => params.append(name, v));
            navigate(`${location.pathname}${params.toString() ? `?${params}` : ''}`);
          },
        }, '×'));
    });
    replace(filtersGroup,
      h('span', { class: 'field-label' }, label),
      h('div', { class: 'filters-row' },
        chips,
        state.fields.length ? h('div', { class: 'add-filter' },
          h('label', { class: 'visually-hidden', for: fieldId }, 'Filter field'), fieldSelect,
          h('label', { class: 'visually-hidden', for: opId }, 'Comparison'), opSelect,
          h('label', { class: 'visually-hidden', for: valueId }, 'Filter value'), valueInput, datalist,
          h('button', { type: 'button', class: 'btn btn-sm', onclick: add, dataset: { testid: 'filter-add' } }, 'Add filter')) : null));
  }

  return { el: filtersGroup, update };
}
