import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seriesQuery, rankQuery, seriesTypes, filterFields, metricLabel, fieldLabel } from '../../src/Tally.Server/Dashboard/wwwroot/js/discover.js';

const stat = (name, props) => ({ name, kind: 'date-histogram', event_type: 'record-view', metric: 'count', filters: [], ...props });
const STATS = [
  stat('views-by-item', { kind: 'terms', field: 'item_id', filters: ['country', 'item_id'] }),
  stat('views-daily', { filters: ['country'] }),
  stat('views-daily-robots', { include_robots: true }),
  stat('views-visitors', { metric: 'unique_visitors' }),
  stat('downloads-daily', { event_type: 'file-download', filters: ['item_id'] }),
  stat('downloads-by-country', { kind: 'terms', event_type: 'file-download', field: 'country', filters: ['institution'] }),
  stat('searches-total', { kind: 'total', event_type: 'search' }),
];

test('the series of a type is its counting date histogram, with or without robots as asked', () => {
  assert.equal(seriesQuery(STATS, 'record-view')?.name, 'views-daily');
  assert.equal(seriesQuery(STATS, 'record-view', [], true)?.name, 'views-daily-robots');
});

test('filters the histogram cannot take fall back to another query of the type that can, or to none', () => {
  assert.equal(seriesQuery(STATS, 'record-view', ['item_id'])?.name, 'views-by-item');
  assert.equal(seriesQuery(STATS, 'record-view', ['institution']), null);
  assert.equal(seriesQuery(STATS, 'no-such-type'), null);
  assert.equal(seriesQuery([], 'record-view'), null);
});

test('a ranking uses a query of that field, else one that can group by it', () => {
  assert.deepEqual(rankQuery(STATS, 'record-view', 'item_id'), { query: STATS[0], groupBy: null });
  assert.deepEqual(rankQuery(STATS, 'record-view', 'country'), { query: STATS[0], groupBy: 'country' });
  assert.deepEqual(rankQuery(STATS, 'file-download', 'institution'), { query: STATS[5], groupBy: 'institution' });
  assert.deepEqual(rankQuery(STATS, 'file-download', 'item_id'), { query: STATS[4], groupBy: 'item_id' });
});

test('a ranking never counts robots, and needs every filter field', () => {
  const robotsOnly = [stat('r', { kind: 'terms', field: 'country', include_robots: true })];
  assert.equal(rankQuery(robotsOnly, 'record-view', 'country'), null);
  assert.equal(rankQuery(STATS, 'record-view', 'item_id', ['institution']), null);
});

test('a ranking with filters needs a query that keeps those fields and its own together', () => {
  const places = stat('places', {
    kind: 'terms', field: 'country', filters: ['item_id', 'country', 'institution'],
    groupings: [['item_id', 'country'], ['item_id', 'institution']],
  });
  const stats = [places, stat('by-institution', { kind: 'terms', field: 'institution', filters: ['country', 'institution'] })];
  assert.deepEqual(rankQuery(stats, 'record-view', 'country', ['item_id']), { query: places, groupBy: null });
  assert.deepEqual(rankQuery(stats, 'record-view', 'institution', ['item_id']), { query: places, groupBy: 'institution' });
  // places keeps no country × institution: the other query, which does, answers.
  assert.deepEqual(rankQuery(stats, 'record-view', 'institution', ['country']), { query: stats[1], groupBy: null });
  assert.equal(rankQuery(stats, 'record-view', 'country', ['item_id', 'institution']), null);
});

test('series types in configuration order, each once, only those with a series', () => {
  assert.deepEqual(seriesTypes(STATS), ['record-view', 'file-download', 'search']);
  assert.deepEqual(seriesTypes([]), []);
});

test('filter fields of all queries, each once, queries without filters included', () => {
  const withoutFilters = [{ name: 'x', kind: 'total', event_type: 'e', metric: 'count' }];
  assert.deepEqual(filterFields([...STATS, ...withoutFilters]), ['country', 'item_id', 'institution']);
});

test('metric names for column headers', () => {
  assert.equal(metricLabel('count', 'record-view'), 'Views');
  assert.equal(metricLabel('count', 'file-download'), 'Downloads');
  assert.equal(metricLabel('count', 'search'), 'Events');
  assert.equal(metricLabel('unique_visitors', 'search'), 'Visitors');
  assert.equal(metricLabel('sum:bytes', 'file-download'), 'Total bytes');
  assert.equal(metricLabel('avg:seconds', 'record-view'), 'Average seconds');
});

test('field names for people, including fields nobody labelled', () => {
  assert.equal(fieldLabel('item_id'), 'Item');
  assert.equal(fieldLabel('access_type'), 'Access type');
  assert.equal(fieldLabel('toString'), 'ToString');
  assert.equal(fieldLabel(''), '');
});
