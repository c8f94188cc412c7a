// The state of a view lives in the URL. These helpers read and write it, and turn date-range presets
// into dates. All dates are UTC days, as Tally aggregates them.

/**
 * A date range as a page shows it.
 * @typedef {object} Range
 * @property {string} preset a PRESETS id, or 'custom'
 * @property {string} from YYYY-MM-DD
 * @property {string} to YYYY-MM-DD, not before from
 * @property {number} days days from `from` to `to`, both included
 * @property {'day' | 'month'} interval
 * @property {string} today the UTC day the range was read on
 * @property {number | null} relativeDays N for "the last N days" presets, which a saved query keeps as such
 * @property {boolean} includesToday
 */

/**
 * A field filter: FIELD=value, or negated not_FIELD=value.
 * @typedef {{field: string, value: string, negated: boolean}} Filter
 */

const DAY = 86_400_000;
/** @param {number} ms */
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
/** @param {string} day */
const parse = (day) => Date.parse(`${day}T00:00:00Z`);

/** @returns {string} today in UTC, YYYY-MM-DD */
export const todayUTC = () => iso(Date.now());
/** @param {string} day @param {number} n @returns {string} */
export const addDays = (day, n) => iso(parse(day) + n * DAY);
/** @param {string} from @param {string} to @returns {number} */
export const daysBetween = (from, to) => Math.round((parse(to) - parse(from)) / DAY);
/** @param {unknown} v @returns {v is string} whether v is a real calendar day, YYYY-MM-DD */
export const isDay = (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(parse(v)) && iso(parse(v)) === v;
/** @param {unknown} v @returns {v is string} whether v is a month, YYYY-MM */
export const isMonth = (v) => typeof v === 'string' && /^\d{4}-(0[1-9]|1[0-2])$/.test(v);
/** @param {string} day @returns {string} YYYY-MM */
export const monthOf = (day) => day.slice(0, 7);
/**
 * @param {string} month YYYY-MM
 * @param {number} n
 * @returns {string}
 */
export function addMonths(month, n) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 7);
}
/** @param {string} month YYYY-MM @returns {string} */
export function lastDayOfMonth(month) {
  return addDays(`${addMonths(month, 1)}-01`, -1);
}
/**
 * Months from a to b inclusive: ['2026-08', '2026-09', …]; at most 20 years of them.
 * @param {string} a YYYY-MM
 * @param {string} b YYYY-MM
 * @returns {string[]}
 */
export function monthsBetween(a, b) {
  const out = [];
  for (let m = a; m <= b && out.length < 240; m = addMonths(m, 1)) out.push(m);
  return out;
}

export const PRESETS = [
  { id: '7d', label: '7 days', long: 'Last 7 days' },
  { id: '30d', label: '30 days', long: 'Last 30 days' },
  { id: '90d', label: '90 days', long: 'Last 90 days' },
  { id: 'month', label: 'This month', long: 'This month' },
  { id: 'lastmonth', label: 'Last month', long: 'Last month' },
  { id: '12m', label: '12 months', long: 'Last 12 months' },
];
export const DEFAULT_PRESET = '30d';

/**
 * Dates of a preset, ending today (UTC); an unknown id is the last 30 days.
 * @param {string} id
 * @param {string} [today]
 * @returns {{from: string, to: string}}
 */
export function presetDates(id, today = todayUTC()) {
  const month = monthOf(today);
  switch (id) {
    case '7d': return { from: addDays(today, -6), to: today };
    case '90d': return { from: addDays(today, -89), to: today };
    case 'month': return { from: `${month}-01`, to: today };
    case 'lastmonth': { const last = addMonths(month, -1); return { from: `${last}-01`, to: lastDayOfMonth(last) }; }
    case '12m': return { from: `${addMonths(month, -11)}-01`, to: today };
    default: return { from: addDays(today, -29), to: today };
  }
}

/**
 * The range a URL asks for: ?range=7d|30d|90d|month|lastmonth|12m, or ?from=YYYY-MM-DD&to=YYYY-MM-DD
 * (custom), and ?interval=day|month (default: month for 12 months or ranges over 120 days).
 * Anything else falls back to the default preset.
 * @param {URLSearchParams} params
 * @param {string} [today]
 * @returns {Range}
 */
export function readRange(params, today = todayUTC()) {
  let preset = params.get('range') ?? '';
  const fromParam = params.get('from');
  const toParam = params.get('to');
  let from;
  let to;
  if (isDay(fromParam) && isDay(toParam) && !PRESETS.some((p) => p.id === preset)) {
    preset = 'custom';
    [from, to] = fromParam > toParam ? [toParam, fromParam] : [fromParam, toParam];
  } else {
    if (!PRESETS.some((p) => p.id === preset)) preset = DEFAULT_PRESET;
    ({ from, to } = presetDates(preset, today));
  }
  const days = daysBetween(from, to) + 1;
  const asked = params.get('interval');
  const interval = asked === 'day' || asked === 'month' ? asked : preset === '12m' || days > 120 ? 'month' : 'day';
  // Relative presets that a saved query can keep as "the last N days".
  const relativeDays = RELATIVE_DAYS.get(preset) ?? null;
  return { preset, from, to, days, interval, today, relativeDays, includesToday: from <= today && today <= to };
}

const RELATIVE_DAYS = new Map([['7d', 7], ['30d', 30], ['90d', 90]]);

/**
 * The same number of days just before a range, for "vs previous period".
 * @param {{from: string, days: number}} range
 * @returns {{from: string, to: string}}
 */
export function previousRange({ from, days }) {
  const to = addDays(from, -1);
  return { from: addDays(to, -(days - 1)), to };
}

/**
 * Bucket key of a day in a timeline at an interval: the day itself, or the first of its month.
 * @param {string} day
 * @param {string} interval
 * @returns {string}
 */
export const bucketOf = (day, interval) => (interval === 'month' ? `${monthOf(day)}-01` : day);

/**
 * Field filters from URL parameters: FIELD=v and not_FIELD=v for the fields given; others, empty values
 * and repeats are left out.
 * @param {URLSearchParams} params
 * @param {string[]} fields
 * @returns {Filter[]}
 */
export function readFilters(params, fields) {
  /** @type {Filter[]} */
  const filters = [];
  for (const [key, value] of params) {
    if (!value) continue;
    const negated = key.startsWith('not_') && fields.includes(key.slice(4));
    const field = negated ? key.slice(4) : key;
    if (!fields.includes(field)) continue;
    if (filters.some((f) => f.field === field && f.value === value && f.negated === negated)) continue;
    filters.push({ field, value, negated });
  }
  return filters;
}

/**
 * Filters as API parameters: {country: ['DE'], not_institution: ['x']}.
 * @param {Filter[]} filters
 * @returns {Record<string, string[]>}
 */
export function filterParams(filters) {
  /** @type {Record<string, string[]>} */
  const params = {};
  for (const f of filters) (params[(f.negated ? 'not_' : '') + f.field] ??= []).push(f.value);
  return params;
}

/**
 * Changes to URL parameters: null (or empty) removes, arrays repeat.
 * @typedef {Record<string, string | number | null | undefined | string[]>} ParamChanges
 */

/**
 * A copy of the current URL's parameters with changes.
 * @param {ParamChanges} changes
 * @param {URLSearchParams} [base]
 * @returns {URLSearchParams}
 */
export function withParams(changes, base = new URLSearchParams(location.search)) {
  const params = new URLSearchParams(base);
  for (const [key, value] of Object.entries(changes)) {
    params.delete(key);
    if (value == null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.set(key, String(value));
  }
  return params;
}

/**
 * The current page's URL with changed parameters.
 * @param {ParamChanges} changes
 * @param {string} [path]
 * @returns {string}
 */
export function hrefWith(changes, path = location.pathname) {
  const qs = withParams(changes).toString();
  return qs ? `${path}?${qs}` : path;
}
