// Small DOM-building helpers shared by every view.

/**
 * What h() and s() take as children: nodes, text, numbers, and nested arrays of them; null, undefined
 * and false are left out.
 * @typedef {Node | string | number | null | undefined | false | Child[]} Child
 */

/**
 * Properties and attributes for h(): class, text, dataset, style (an object), on* listeners, DOM
 * properties such as value or checked, and any other attribute (true is present, null/false absent).
 * @typedef {Record<string, any>} Props
 */

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'indeterminate', 'readOnly', 'required', 'multiple']);

/**
 * Creates an element: h('a', {href: '/', class: 'x', onclick: fn, dataset: {testid: 'y'}}, 'text', child…).
 * Null, undefined and false props and children are skipped; arrays of children are flattened.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/**
 * The same for SVG elements; every prop is an attribute.
 * @param {string} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, props, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  if (props) for (const [k, v] of Object.entries(props)) if (v != null && v !== false) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

/**
 * @param {HTMLElement} el
 * @param {Props} props
 */
function setProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

/**
 * Appends children (see Child) to a node.
 * @template {ParentNode} T
 * @param {T} el
 * @param {Child[]} children
 * @returns {T}
 */
export function append(el, children) {
  for (const child of /** @type {unknown[]} */ (children).flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Replaces an element's children in one go (one layout, not one per child).
 * @template {Element} T
 * @param {T} el
 * @param {...Child} children
 * @returns {T}
 */
export function replace(el, ...children) {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  el.replaceChildren(fragment);
  return el;
}

let counter = 0;
/**
 * A unique id for label/aria wiring.
 * @param {string} [prefix]
 * @returns {string}
 */
export const uid = (prefix = 'id') => `${prefix}-${++counter}`;

export const icons = {
  download: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 14, height: 14 }, s('path', { d: 'M12 4v11m0 0-4-4m4 4 4-4M5 20h14' })),
  chevron: () => s('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', fill: 'none', stroke: 'currentColor', 'stroke-width': 2.5, 'stroke-linecap': 'round' }, s('path', { d: 'm9 6 6 6-6 6' })),
  copy: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 14, height: 14 }, s('rect', { x: 9, y: 9, width: 11, height: 11, rx: 2 }), s('path', { d: 'M5 15V5a1 1 0 0 1 1-1h9' })),
  bookmark: () => s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', width: 16, height: 16 }, s('path', { d: 'M6 4h12v17l-6-4-6 4z' })),
};
