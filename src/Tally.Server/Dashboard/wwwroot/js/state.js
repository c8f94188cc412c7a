// The state of a view lives in the URL. These helpers read and write it, and turn date-range presets
// into dates. All dates are UTC days, as Tally aggregates them.

const DAY = 86_400_000;
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
const parse = (day) => Date.parse(`${day}T00:00:00Z`);

export const todayUTC = () => iso(Date.now());
export const addDays = (day, n) => iso(parse(day) + n * DAY);
export const daysBetween = (from, to) => Math.round((parse(to) - parse(from)) / DAY);
export const isDay = (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(parse(v)) && iso(parse(v)) === v;
export const isMonth = (v) => typeof v === 'string' && /^\d{4}-(0[1-9]|1[0-2])$/.test(v);
export const monthOf = (day) => day.slice(0, 7);
export function addMonths(month, n) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 7);
}
export function lastDayOfMonth(month) {
  return addDays(`${addMonths(month, 1)}-01`, -1);
}
/** Months from a to b inclusive: ['2026-08', '2026-09', …]. */
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

/** Dates of a preset, ending today (UTC). */
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
 */
export function readRange(params) {
  const today = todayUTC();
  let preset = params.get('range');
  let from = params.get('from');
  let to = params.get('to');
  if (isDay(from) && isDay(to) && !PRESETS.some((p) => p.id === preset)) {
    preset = 'custom';
    if (from > to) [from, to] = [to, from];
  } else {
    if (!PRESETS.some((p) => p.id === preset)) preset = DEFAULT_PRESET;
    ({ from, to } = presetDates(preset, today));
  }
  const days = daysBetween(from, to) + 1;
  let interval = params.get('interval');
  if (interval !== 'day' && interval !== 'month') interval = preset === '12m' || days > 120 ? 'month' : 'day';
  // Relative presets that a saved query can keep as "the last N days".
  const relativeDays = { '7d': 7, '30d': 30, '90d': 90 }[preset] ?? null;
  return { preset, from, to, days, interval, today, relativeDays, includesToday: from <= today && today <= to };
}

/** The same number of days just before a range, for "vs previous period". */
export function previousRange({ from, days }) {
  const to = addDays(from, -1);
  return { from: addDays(to, -(days - 1)), to };
}

/** Bucket key of a day in a timeline at an interval: the day itself, or the first of its month. */
export const bucketOf = (day, interval) => (interval === 'month' ? `${monthOf(day)}-01` : day);

/** Field filters from URL parameters: FIELD=v and not_FIELD=v for the fields given. */
export function readFilters(params, fields) {
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

/** Filters as API parameters: {country: ['DE'], not_institution: ['x']}. */
export function filterParams(filters) {
  const params = {};
  for (const f of filters) (params[(f.negated ? 'not_' : '') + f.field] ??= []).push(f.value);
  return params;
}

/** A copy of the current URL's parameters with changes: null removes, arrays repeat. */
export function withParams(changes, base = new URLSearchParams(location.search)) {
  const params = new URLSearchParams(base);
  for (const [key, value] of Object.entries(changes)) {
    params.delete(key);
    if (value == null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.set(key, value);
  }
  return params;
}

export function hrefWith(changes, path = location.pathname) {
  const qs = withParams(changes).toString();
  return qs ? `${path}?${qs}` : path;
}
