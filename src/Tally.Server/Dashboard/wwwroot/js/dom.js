// Small DOM and formatting helpers shared by every view.

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'indeterminate', 'readOnly', 'required', 'multiple']);

/**
 * Creates an element: h('a', {href: '/', class: 'x', onclick: fn, dataset: {testid: 'y'}}, 'text', child…).
 * Null, undefined and false props and children are skipped; arrays of children are flattened.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (props) for (const [k, v] of Object.entries(props)) if (v != null && v !== false) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's children in one go (one layout, not one per child). */
export function replace(el, ...children) {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  el.replaceChildren(fragment);
  return el;
}

let counter = 0;
/** A unique id for label/aria wiring. */
export const uid = (prefix = 'id') => `${prefix}-${++counter}`;

// ---------- formatting ----------
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
export const fmtInt = (n) => (n == null || Number.isNaN(n) ? '–' : integer.format(n));
export const fmtNum = (n) => (n == null || Number.isNaN(n) ? '–' : Number.isInteger(n) ? integer.format(n) : decimal.format(n));
export const fmtCompact = (n) => compact.format(n);
export const fmtPct = (x, digits = 1) => (x == null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`);

// Dates are UTC days. Written out by hand ("5 Sep 2026"), so every browser and locale data version
// shows the same text (en-GB would say "Sept" in some).
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const parts = (iso) => {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return { y, m: m - 1, d: d || 1 };
};
export const fmtDay = (iso) => { const { y, m, d } = parts(iso); return `${d} ${MONTHS[m].slice(0, 3)} ${y}`; };
export const fmtDayShort = (iso) => { const { m, d } = parts(iso); return `${d} ${MONTHS[m].slice(0, 3)}`; };
export const fmtMonth = (iso) => { const { y, m } = parts(iso.length === 7 ? `${iso}-01` : iso); return `${MONTHS[m]} ${y}`; };
export const fmtMonthShort = (iso) => { const { y, m } = parts(iso.length === 7 ? `${iso}-01` : iso); return `${MONTHS[m].slice(0, 3)} ${y}`; };
const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC', hour12: false });
export function fmtTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso ?? '');
  return `${fmtDay(date.toISOString())}, ${timeFormat.format(date)} UTC`;
}

/** A date range for people: "25 Oct – 23 Nov 2026". */
export function fmtRange(from, to) {
  if (from === to) return fmtDay(from);
  if (from.slice(0, 4) === to.slice(0, 4)) return `${fmtDayShort(from)} – ${fmtDay(to)}`;
  return `${fmtDay(from)} – ${fmtDay(to)}`;
}

let regionNames;
/** "DE" → "Germany", via Intl.DisplayNames; unknown codes are shown as they are. */
export function countryName(code) {
  if (!code) return 'Unknown';
  try {
    regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
    const name = regionNames.of(String(code).toUpperCase());
    return name && name !== code ? name : String(code);
  } catch {
    return String(code);
  }
}

/** Event type names for people: record-view → Views. */
const TYPE_LABELS = { 'record-view': 'Views', 'file-download': 'Downloads', 'supplementary-download': 'Supplementary downloads', 'no-license': 'No licence', 'limit-exceeded': 'Limit exceeded', search: 'Searches' };
export function typeLabel(type) {
  if (TYPE_LABELS[type]) return TYPE_LABELS[type];
  const words = String(type).replace(/[-_]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A stable colour index per event type, so Views are always the same colour. */
const TYPE_ORDER = ['record-view', 'file-download'];
export function typeColorIndex(type, fallbackIndex = 0) {
  const i = TYPE_ORDER.indexOf(type);
  return i >= 0 ? i : 2 + (fallbackIndex % 4);
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
/** A series colour as a CSS reference (var(--c1)…), so it follows the theme wherever CSS paints it. */
export const seriesColor = (index) => `var(--c${(index % 6) + 1})`;
/** The colour a CSS reference stands for now (ECharts and canvas need real colours). */
export const resolveColor = (color) => {
  const m = /^var\((--[\w-]+)\)$/.exec(color ?? '');
  return m ? cssVar(m[1]) : color;
};

/** Debounce for resize and input handlers. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export const icons = {
  download: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 14, height: 14 }, s('path', { d: 'M12 4v11m0 0-4-4m4 4 4-4M5 20h14' })),
  chevron: () => s('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', fill: 'none', stroke: 'currentColor', 'stroke-width': 2.5, 'stroke-linecap': 'round' }, s('path', { d: 'm9 6 6 6-6 6' })),
  copy: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 14, height: 14 }, s('rect', { x: 9, y: 9, width: 11, height: 11, rx: 2 }), s('path', { d: 'M5 15V5a1 1 0 0 1 1-1h9' })),
  bookmark: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 16, height: 16 }, s('path', { d: 'M6 4h12v17l-6-4-6 4z' })),
};

/** Text made safe inside HTML markup and quoted attributes (chart tooltips, the iframe snippet). */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
