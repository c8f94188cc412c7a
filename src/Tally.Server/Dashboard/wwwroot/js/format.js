// Numbers, dates and names as people read them. Pure functions of their input (no DOM), so the same
// value reads the same on every page, chart and table.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const MISSING = '–';

/** @param {number | null | undefined} n @returns {string} 1234.5 → "1,235"; no number → "–". */
export const fmtInt = (n) => (n == null || Number.isNaN(n) ? MISSING : integer.format(n));
/** @param {number | null | undefined} n @returns {string} Integers as fmtInt, others with up to two decimals. */
export const fmtNum = (n) => (n == null || Number.isNaN(n) ? MISSING : Number.isInteger(n) ? integer.format(n) : decimal.format(n));
/** @param {number} n @returns {string} 12345 → "12.3K", for axis labels. */
export const fmtCompact = (n) => compact.format(n);
/** @param {number | null | undefined} x a share (0.25) @param {number} [digits] @returns {string} "25.0%"; no finite share → "–". */
export const fmtPct = (x, digits = 1) => (x == null || !Number.isFinite(x) ? MISSING : `${(x * 100).toFixed(digits)}%`);

// Dates are UTC days. Written out by hand ("5 Sep 2026"), so every browser and locale data version
// shows the same text (en-GB would say "Sept" in some).
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
/** @param {string} iso @returns {{y: number, m: number, d: number}} */
const parts = (iso) => {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return { y, m: m - 1, d: d || 1 };
};
/** @param {string} iso a month (YYYY-MM) or a day @returns {string} the first day of its month, or the day */
const asDay = (iso) => (iso.length === 7 ? `${iso}-01` : iso);

/** @param {string} iso YYYY-MM-DD, or a longer ISO time @returns {string} "5 Sep 2026" */
export const fmtDay = (iso) => { const { y, m, d } = parts(iso); return `${d} ${MONTHS[m].slice(0, 3)} ${y}`; };
/** @param {string} iso @returns {string} "5 Sep" */
export const fmtDayShort = (iso) => { const { m, d } = parts(iso); return `${d} ${MONTHS[m].slice(0, 3)}`; };
/** @param {string} iso YYYY-MM or YYYY-MM-DD @returns {string} "September 2026" */
export const fmtMonth = (iso) => { const { y, m } = parts(asDay(iso)); return `${MONTHS[m]} ${y}`; };
/** @param {string} iso YYYY-MM or YYYY-MM-DD @returns {string} "Sep 2026" */
export const fmtMonthShort = (iso) => { const { y, m } = parts(asDay(iso)); return `${MONTHS[m].slice(0, 3)} ${y}`; };

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC', hour12: false });
/**
 * A moment in UTC: "5 Sep 2026, 14:03:09 UTC". Text that is no time is shown as it is.
 * @param {string | number | null | undefined} iso
 * @returns {string}
 */
export function fmtTime(iso) {
  const date = new Date(iso ?? NaN);
  if (Number.isNaN(date.getTime())) return String(iso ?? '');
  return `${fmtDay(date.toISOString())}, ${timeFormat.format(date)} UTC`;
}

/**
 * A date range for people: "25 Oct – 23 Nov 2026".
 * @param {string} from YYYY-MM-DD
 * @param {string} to YYYY-MM-DD
 * @returns {string}
 */
export function fmtRange(from, to) {
  if (from === to) return fmtDay(from);
  if (from.slice(0, 4) === to.slice(0, 4)) return `${fmtDayShort(from)} – ${fmtDay(to)}`;
  return `${fmtDay(from)} – ${fmtDay(to)}`;
}

/** @type {Intl.DisplayNames | undefined} */
let regionNames;
/**
 * "DE" → "Germany", via Intl.DisplayNames; unknown codes are shown as they are.
 * @param {string | null | undefined} code
 * @returns {string}
 */
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

/** @type {Record<string, string>} */
const TYPE_LABELS = { 'record-view': 'Views', 'file-download': 'Downloads', 'supplementary-download': 'Supplementary downloads', 'no-license': 'No licence', 'limit-exceeded': 'Limit exceeded', search: 'Searches' };
/**
 * Event type names for people: record-view → Views; others with their dashes as spaces.
 * @param {string} type
 * @returns {string}
 */
export function typeLabel(type) {
  if (Object.hasOwn(TYPE_LABELS, type)) return TYPE_LABELS[type];
  const words = String(type).replace(/[-_]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** @type {Record<string, string>} */
const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/**
 * Text made safe inside HTML markup and quoted attributes (chart tooltips, the iframe snippet).
 * @param {unknown} text
 * @returns {string}
 */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
