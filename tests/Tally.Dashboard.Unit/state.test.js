import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addDays, daysBetween, isDay, isMonth, addMonths, lastDayOfMonth, monthsBetween, presetDates, readRange, previousRange,
  bucketOf, readFilters, filterParams, withParams, hrefWith,
} from '../../src/Tally.Server/Dashboard/wwwroot/js/state.js';

const TODAY = '2026-03-15';
const range = (query) => readRange(new URLSearchParams(query), TODAY);

test('only real calendar days and months are accepted', () => {
  assert.ok(isDay('2024-02-29'));
  assert.ok(!isDay('2026-02-29'));
  assert.ok(!isDay('2026-13-01'));
  assert.ok(!isDay('2026-1-01'));
  assert.ok(!isDay(' 2026-01-01'));
  assert.ok(!isDay(null));
  assert.ok(!isDay(20260101));
  assert.ok(isMonth('2026-12'));
  assert.ok(!isMonth('2026-00'));
  assert.ok(!isMonth('2026-13'));
  assert.ok(!isMonth(undefined));
});

test('day and month arithmetic crosses month, year and leap-day boundaries', () => {
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(addDays('2024-03-01', -1), '2024-02-29');
  assert.equal(daysBetween('2026-01-01', '2026-12-31'), 364);
  assert.equal(addMonths('2026-01', -1), '2025-12');
  assert.equal(addMonths('2026-11', 14), '2028-01');
  assert.equal(lastDayOfMonth('2024-02'), '2024-02-29');
  assert.equal(lastDayOfMonth('2026-02'), '2026-02-28');
});

test('months between two months, inclusive; none when reversed; at most twenty years', () => {
  assert.deepEqual(monthsBetween('2025-11', '2026-02'), ['2025-11', '2025-12', '2026-01', '2026-02']);
  assert.deepEqual(monthsBetween('2026-02', '2026-02'), ['2026-02']);
  assert.deepEqual(monthsBetween('2026-03', '2026-02'), []);
  assert.equal(monthsBetween('1900-01', '2100-01').length, 240);
});

test('presets end today; last month is the whole calendar month before', () => {
  assert.deepEqual(presetDates('7d', TODAY), { from: '2026-03-09', to: TODAY });
  assert.deepEqual(presetDates('month', TODAY), { from: '2026-03-01', to: TODAY });
  assert.deepEqual(presetDates('lastmonth', TODAY), { from: '2026-02-01', to: '2026-02-28' });
  assert.deepEqual(presetDates('lastmonth', '2026-01-10'), { from: '2025-12-01', to: '2025-12-31' });
  assert.deepEqual(presetDates('12m', TODAY), { from: '2025-04-01', to: TODAY });
  assert.deepEqual(presetDates('no such preset', TODAY), { from: '2026-02-14', to: TODAY });
});

test('no parameters: the last 30 days per day, which a saved query keeps as relative', () => {
  assert.deepEqual(range(''), {
    preset: '30d', from: '2026-02-14', to: TODAY, days: 30, interval: 'day', today: TODAY, relativeDays: 30, includesToday: true,
  });
});

test('a custom range from the URL, swapped when given backwards', () => {
  const r = range('from=2026-01-31&to=2026-01-01');
  assert.equal(r.preset, 'custom');
  assert.equal(r.from, '2026-01-01');
  assert.equal(r.to, '2026-01-31');
  assert.equal(r.days, 31);
  assert.equal(r.relativeDays, null);
  assert.equal(r.includesToday, false);
});

test('bad dates, an unknown preset or a half range fall back to the default preset', () => {
  for (const query of ['from=2026-02-30&to=2026-03-01', 'from=yesterday&to=today', 'from=2026-01-01', 'range=forever', 'range=&from=&to=']) {
    const r = range(query);
    assert.equal(r.preset, '30d', query);
    assert.equal(r.from, '2026-02-14', query);
  }
});

test('a preset in the URL wins over dates beside it', () => {
  const r = range('range=7d&from=2020-01-01&to=2020-12-31');
  assert.equal(r.preset, '7d');
  assert.equal(r.from, '2026-03-09');
});

test('the interval is month for 12 months and long ranges unless the URL says otherwise; nonsense is ignored', () => {
  assert.equal(range('range=12m').interval, 'month');
  assert.equal(range('from=2026-01-01&to=2026-05-01').interval, 'month');
  assert.equal(range('from=2026-01-01&to=2026-04-30').interval, 'day');
  assert.equal(range('range=12m&interval=day').interval, 'day');
  assert.equal(range('interval=week').interval, 'day');
});

test('the previous period has as many days and ends the day before', () => {
  assert.deepEqual(previousRange({ from: '2026-03-01', days: 31 }), { from: '2026-01-29', to: '2026-02-28' });
});

test('buckets are days, or the first of the month', () => {
  assert.equal(bucketOf('2026-03-15', 'day'), '2026-03-15');
  assert.equal(bucketOf('2026-03-15', 'month'), '2026-03-01');
});

test('filters: only known fields, negated with not_, empty values and repeats left out', () => {
  const params = new URLSearchParams('country=DE&country=DE&not_country=FR&institution=&not_secret=x&evil=1&not_=2&range=7d');
  assert.deepEqual(readFilters(params, ['country', 'institution']), [
    { field: 'country', value: 'DE', negated: false },
    { field: 'country', value: 'FR', negated: true },
  ]);
  assert.deepEqual(readFilters(new URLSearchParams(''), ['country']), []);
});

test('negation and a field named alike (notes, not_notes) are told apart', () => {
  assert.deepEqual(readFilters(new URLSearchParams('not_notes=a&notes=b'), ['notes']), [
    { field: 'notes', value: 'a', negated: true },
    { field: 'notes', value: 'b', negated: false },
  ]);
});

test('filters become API parameters, repeated per value', () => {
  assert.deepEqual(filterParams([
    { field: 'country', value: 'DE', negated: false },
    { field: 'country', value: 'AT', negated: false },
    { field: 'institution', value: 'x', negated: true },
  ]), { country: ['DE', 'AT'], not_institution: ['x'] });
  assert.deepEqual(filterParams([]), {});
});

test('changed parameters: null and empty remove, arrays repeat, the rest is kept', () => {
  const base = new URLSearchParams('range=7d&type=a&type=b&page=3');
  const next = withParams({ page: null, type: ['c'], from: '', rank: 'search', count: 10 }, base);
  assert.equal(next.toString(), 'range=7d&type=c&rank=search&count=10');
  assert.equal(base.toString(), 'range=7d&type=a&type=b&page=3', 'the base is not changed');
});

test('an href with no parameters left is the bare path', () => {
  globalThis.location = /** @type {any} */ (new URL('http://tally.test/events?page=2'));
  try {
    assert.equal(hrefWith({ page: null }), '/events');
    assert.equal(hrefWith({ page: '3' }, '/other'), '/other?page=3');
  } finally {
    delete globalThis.location;
  }
});
