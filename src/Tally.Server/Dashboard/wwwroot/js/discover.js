// Which registered query answers which panel, found from GET /api/v1/stats rather than hard-coded, so a
// site's own configuration gets a dashboard too. A panel whose question no query answers is hidden or
// says so.

/**
 * A registered query, as GET /api/v1/stats lists it.
 * @typedef {object} Stat
 * @property {string} name
 * @property {string} kind date-histogram, terms, …
 * @property {string} event_type
 * @property {string} metric count, unique_visitors, sum:FIELD, …
 * @property {string} [field] the field a terms query ranks
 * @property {string[]} [filters] the fields it can filter (and group) by
 * @property {string[][]} [groupings] the widest combinations of those fields that may be asked together
 * @property {boolean} [include_robots]
 */

/** @param {Stat} q */
const robotsOf = (q) => Boolean(q.include_robots);
/**
 * Whether the query can filter and group by all of these fields at once: some combination it keeps holds them all.
 * @param {Stat} q @param {string[]} fields
 */
const accepts = (q, fields) => (q.groupings ?? [q.filters ?? []]).some((kept) => fields.every((f) => kept.includes(f)));

/**
 * The query behind "events over time" for a type: the first date-histogram counting events without
 * robots (or with robots: true, including them) that accepts the filter fields. When no histogram
 * accepts the filters, another query over the same events that does (its timeline is still per day).
 * @param {Stat[]} stats
 * @param {string} type
 * @param {string[]} [filterFields]
 * @param {boolean} [robots]
 * @returns {Stat | null}
 */
export function seriesQuery(stats, type, filterFields = [], robots = false) {
  const fits = (q) => q.event_type === type && q.metric === 'count' && robotsOf(q) === robots && accepts(q, filterFields);
  return stats.find((q) => q.kind === 'date-histogram' && fits(q)) ?? stats.find(fits) ?? null;
}

/**
 * The query ranking a type's events by a field (item_id, country, referrer, institution), accepting the
 * filter fields: one whose field is that field, else one that can group by it (groupBy=field).
 * @param {Stat[]} stats
 * @param {string} type
 * @param {string} field
 * @param {string[]} [filterFields]
 * @returns {{query: Stat, groupBy: string | null} | null}
 */
export function rankQuery(stats, type, field, filterFields = []) {
  const base = (q) => q.event_type === type && !robotsOf(q) && accepts(q, [...filterFields, field]);
  const direct = stats.find((q) => q.kind === 'terms' && q.field === field && base(q));
  if (direct) return { query: direct, groupBy: null };
  const grouped = stats.find((q) => q.kind === 'terms' && base(q)) ?? stats.find(base);
  return grouped ? { query: grouped, groupBy: field } : null;
}

/**
 * Event types that have an "events over time" query, in the order the configuration lists them.
 * @param {Stat[]} stats
 * @returns {string[]}
 */
export function seriesTypes(stats) {
  /** @type {string[]} */
  const types = [];
  for (const q of stats) if (!types.includes(q.event_type) && seriesQuery(stats, q.event_type)) types.push(q.event_type);
  return types;
}

/**
 * Every field some query can filter by: what the filter control offers.
 * @param {Stat[]} stats
 * @returns {string[]}
 */
export function filterFields(stats) {
  /** @type {string[]} */
  const fields = [];
  for (const q of stats) for (const f of q.filters || []) if (!fields.includes(f)) fields.push(f);
  return fields;
}

/**
 * The metric's name for a column header.
 * @param {string} metric
 * @param {string} type
 * @returns {string}
 */
export function metricLabel(metric, type) {
  switch (metric) {
    case 'count': return type === 'file-download' ? 'Downloads' : type === 'record-view' ? 'Views' : 'Events';
    case 'unique_visitors': return 'Visitors';
    case 'unique_sessions': return 'Sessions';
    default: return metric.replace(/^(sum|avg):/, (m, k) => (k === 'sum' ? 'Total ' : 'Average '));
  }
}

/** @type {Record<string, string>} */
export const FIELD_LABELS = { item_id: 'Item', country: 'Country', institution: 'Institution', referrer: 'Referrer', title_id: 'Title', data_type: 'Data type', access_method: 'Access method', format: 'Format' };
/**
 * A field's name for people: item_id → Item, others with underscores as spaces.
 * @param {string} f
 * @returns {string}
 */
export const fieldLabel = (f) => (Object.hasOwn(FIELD_LABELS, f) ? FIELD_LABELS[f] : null) ?? f.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
