// Series colours: CSS custom properties (--c1 … --c6) that follow the theme, and a stable colour per
// event type, so Views are always the same colour.

const TYPE_ORDER = ['record-view', 'file-download'];
const PALETTE_SIZE = 6;

/**
 * The palette index of an event type: Views and Downloads keep theirs; other types share the rest.
 * @param {string} type
 * @param {number} [fallbackIndex] the type's position, for types without a fixed colour
 * @returns {number}
 */
export function typeColorIndex(type, fallbackIndex = 0) {
  const i = TYPE_ORDER.indexOf(type);
  return i >= 0 ? i : 2 + (fallbackIndex % 4);
}

/**
 * A series colour as a CSS reference (var(--c1)…), so it follows the theme wherever CSS paints it.
 * @param {number} index
 * @returns {string}
 */
export const seriesColor = (index) => `var(--c${(index % PALETTE_SIZE) + 1})`;

/**
 * The value of a CSS custom property on the page now.
 * @param {string} name
 * @returns {string}
 */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * The colour a CSS reference stands for now (ECharts and canvas need real colours).
 * @param {string | null | undefined} color
 * @returns {string | null | undefined}
 */
export const resolveColor = (color) => {
  const m = /^var\((--[\w-]+)\)$/.exec(color ?? '');
  return m ? cssVar(m[1]) : color;
};
