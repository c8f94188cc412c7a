import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtInt, fmtNum, fmtCompact, fmtPct, fmtDay, fmtDayShort, fmtMonth, fmtMonthShort, fmtTime, fmtRange, countryName, typeLabel, escapeHtml } from '../../src/Tally.Server/Dashboard/wwwroot/js/format.js';

test('numbers without a value show a dash, not "NaN" or "0"', () => {
  for (const fmt of [fmtInt, fmtNum]) {
    assert.equal(fmt(null), '–');
    assert.equal(fmt(undefined), '–');
    assert.equal(fmt(NaN), '–');
  }
  assert.equal(fmtPct(null), '–');
  assert.equal(fmtPct(Infinity), '–');
  assert.equal(fmtPct(NaN), '–');
});

test('integers group thousands and round; other numbers keep two decimals', () => {
  assert.equal(fmtInt(0), '0');
  assert.equal(fmtInt(1234.5), '1,235');
  assert.equal(fmtInt(-9876543), '-9,876,543');
  assert.equal(fmtNum(1234), '1,234');
  assert.equal(fmtNum(2.345678), '2.35');
  assert.equal(fmtNum(0.5), '0.5');
});

test('huge counts are written out in full, and compactly for axes', () => {
  assert.equal(fmtInt(Number.MAX_SAFE_INTEGER), '9,007,199,254,740,991');
  assert.equal(fmtInt(1e21), '1,000,000,000,000,000,000,000');
  assert.equal(fmtCompact(1234), '1.2K');
  assert.equal(fmtCompact(5_600_000_000), '5.6B');
  assert.equal(fmtCompact(0), '0');
});

test('shares are percentages with the digits asked for', () => {
  assert.equal(fmtPct(0.25), '25.0%');
  assert.equal(fmtPct(1 / 3, 2), '33.33%');
  assert.equal(fmtPct(0), '0.0%');
  assert.equal(fmtPct(1.5), '150.0%');
});

test('days and months are written out the same in every locale', () => {
  assert.equal(fmtDay('2026-09-05'), '5 Sep 2026');
  assert.equal(fmtDay('2026-09-05T23:59:59Z'), '5 Sep 2026');
  assert.equal(fmtDayShort('2026-12-31'), '31 Dec');
  assert.equal(fmtMonth('2026-02'), 'February 2026');
  assert.equal(fmtMonth('2026-02-17'), 'February 2026');
  assert.equal(fmtMonthShort('2027-01'), 'Jan 2027');
});

test('a range says the year once when both ends share it', () => {
  assert.equal(fmtRange('2026-10-25', '2026-11-23'), '25 Oct – 23 Nov 2026');
  assert.equal(fmtRange('2025-12-20', '2026-01-10'), '20 Dec 2025 – 10 Jan 2026');
  assert.equal(fmtRange('2026-03-01', '2026-03-01'), '1 Mar 2026');
});

test('times are shown in UTC; text that is no time is shown as it is', () => {
  assert.equal(fmtTime('2026-09-05T14:03:09Z'), '5 Sep 2026, 14:03:09 UTC');
  assert.equal(fmtTime('2026-09-05T14:03:09+02:00'), '5 Sep 2026, 12:03:09 UTC');
  assert.equal(fmtTime('not a time'), 'not a time');
  assert.equal(fmtTime(undefined), '');
  assert.equal(fmtTime(null), '');
});

test('country codes become names; unknown and missing ones do not break', () => {
  assert.equal(countryName('DE'), 'Germany');
  assert.equal(countryName('de'), 'Germany');
  assert.equal(countryName(''), 'Unknown');
  assert.equal(countryName(null), 'Unknown');
  assert.equal(countryName('QQ'), 'QQ');
  assert.equal(countryName('not a code'), 'not a code');
});

test('event types read as words; names of Object.prototype are types like any other', () => {
  assert.equal(typeLabel('record-view'), 'Views');
  assert.equal(typeLabel('file-download'), 'Downloads');
  assert.equal(typeLabel('dataset_export-request'), 'Dataset export request');
  assert.equal(typeLabel('constructor'), 'Constructor');
  assert.equal(typeLabel(''), '');
});

test('HTML escaping covers markup and both quotes', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(escapeHtml(42), '42');
});
