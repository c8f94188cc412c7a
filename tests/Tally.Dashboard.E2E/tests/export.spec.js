// 4 and 5. Exports: CSV is byte for byte what the API answers for Accept: text/csv; PNG and SVG are valid images.
import fs from 'node:fs/promises';
import { test, expect, api, todayUTC, addDays, tileValue } from './fixtures.js';

async function download(page, click) {
  const [file] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: file.suggestedFilename(), bytes: await fs.readFile(await file.path()) };
}

test('CSV of a chart and of a table equal the API answers for Accept: text/csv', async ({ page }) => {
  const to = todayUTC();
  const from = addDays(to, -29);
  await page.goto('/');
  await tileValue(page, 'tile-record-view');

  // The chart has two sources (views, downloads): a menu offers each.
  await page.getByTestId('over-time-csv').click();
  const chartCsv = await download(page, () => page.getByTestId('over-time-csv-record-view-histogram').click());
  expect(chartCsv.name).toBe(`record-view-histogram-${from}-${to}.csv`);
  const chartUrl = `/api/v1/stats/record-view-histogram/timeline?${new URLSearchParams({ dateStart: from, dateEnd: to, interval: 'day' })}`;
  const expectedChart = await api.bytes(chartUrl);
  expect(chartCsv.bytes.equals(expectedChart)).toBe(true);
  expect(chartCsv.bytes.toString('utf8').split(/\r?\n/)[0]).toBe('date,label,count,unique_visitors,unique_sessions,value');
  await expect(page.getByTestId('over-time-api')).toHaveAttribute('href', chartUrl);

  // A table: the top items.
  await expect(page.getByTestId('top-items-csv')).toHaveAccessibleName('Download Top items as CSV');
  const tableCsv = await download(page, () => page.getByTestId('top-items-csv').click());
  expect(tableCsv.name).toBe(`record-view-top-${from}-${to}.csv`);
  const tableUrl = `/api/v1/stats/record-view-top/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 10 })}`;
  expect(tableCsv.bytes.equals(await api.bytes(tableUrl))).toBe(true);
  expect(tableCsv.bytes.toString('utf8').split(/\r?\n/).filter(Boolean)).toHaveLength(11);
});

test('PNG and SVG downloads of a chart are valid images', async ({ page }) => {
  const to = todayUTC();
  const from = addDays(to, -29);
  await page.goto('/');
  await tileValue(page, 'tile-record-view');
  await expect(page.getByTestId('over-time-png')).toHaveAccessibleName('Download Events over time as PNG');

  const png = await download(page, () => page.getByTestId('over-time-png').click());
  expect(png.name).toBe(`events-over-time-${from}-${to}.png`);
  expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // Twice the pixels of the chart, which is as wide as its panel.
  const width = png.bytes.readUInt32BE(16);
  const height = png.bytes.readUInt32BE(20);
  expect(width).toBeGreaterThan(1000);
  expect(height).toBeGreaterThan(400);

  const svg = await download(page, () => page.getByTestId('over-time-svg').click());
  expect(svg.name).toBe(`events-over-time-${from}-${to}.svg`);
  const text = svg.bytes.toString('utf8');
  expect(text.startsWith('<svg')).toBe(true);
  const parsed = await page.evaluate((source) => {
    const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
    return { root: doc.documentElement.nodeName, errors: doc.getElementsByTagName('parsererror').length, paths: doc.getElementsByTagName('path').length, text: doc.documentElement.textContent };
  }, text);
  expect(parsed).toMatchObject({ root: 'svg', errors: 0 });
  expect(parsed.paths).toBeGreaterThan(2);
  expect(parsed.text).toContain('Views');
  expect(parsed.text).toContain('Downloads');

  // A bar chart too (top countries).
  const bars = await download(page, () => page.getByTestId('top-countries-svg').click());
  expect(bars.bytes.toString('utf8').startsWith('<svg')).toBe(true);
});
