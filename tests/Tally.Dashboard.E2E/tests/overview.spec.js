// 1. The overview over 90 days of demo data shows exactly the API's numbers.
import { test, expect, api, todayUTC, addDays, fmtInt, tileValue, chartData } from './fixtures.js';

test('overview tiles, chart, top items and robot share equal the API', async ({ page }) => {
  const to = todayUTC();
  const from = addDays(to, -29); // the default range: the last 30 days
  const range = { dateStart: from, dateEnd: to, interval: 'day' };
  const [views, downloads, viewsAll, downloadsAll, top] = await Promise.all([
    api.timeline('record-view-histogram', range),
    api.timeline('file-download-histogram', range),
    api.timeline('record-view-with-robots-histogram', range),
    api.timeline('file-download-with-robots-histogram', range),
    api.json(`/api/v1/stats/record-view-top/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 10 })}`),
  ]);
  expect(views.total).toBeGreaterThan(1000); // demo data is there

  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Usage overview');

  // Tiles: the totals of the two histograms.
  expect(await tileValue(page, 'tile-record-view')).toBe(views.total);
  await expect(page.getByTestId('tile-record-view-value')).toHaveText(fmtInt(views.total));
  expect(await tileValue(page, 'tile-file-download')).toBe(downloads.total);
  await expect(page.getByTestId('tile-file-download-value')).toHaveText(fmtInt(downloads.total));
  const visitors = views.rows.reduce((a, r) => a + r.unique_visitors, 0);
  expect(await tileValue(page, 'tile-visitors')).toBe(visitors);

  // Robot share: 1 - (people) / (everything), over both types.
  const all = viewsAll.total + downloadsAll.total;
  const robots = all - views.total - downloads.total;
  expect(robots).toBeGreaterThan(0);
  await tileValue(page, 'tile-robots');
  const robotTile = page.getByTestId('tile-robots-value');
  await expect(robotTile).toHaveAttribute('data-robots', String(robots));
  await expect(robotTile).toHaveAttribute('data-all', String(all));
  await expect(robotTile).toHaveText(`${((robots / all) * 100).toFixed(1)}%`);

  // The chart holds the same per-day numbers.
  const chart = await chartData(page, 'over-time-chart');
  expect(chart.categories).toEqual(views.dates);
  expect(chart.series.find((s) => s.id === 'record-view').data).toEqual(views.values);
  expect(chart.series.find((s) => s.id === 'file-download').data).toEqual(downloads.values);
  await expect(page.getByTestId('over-time-chart')).toHaveAttribute('aria-label', /Views and Downloads per day/);

  // Top items: the same ids, in the same order, with the same values; names from item metadata.
  const rows = page.getByTestId('top-items-table').locator('tbody tr');
  await expect(rows).toHaveCount(top.items.length);
  const shown = await rows.evaluateAll((trs) => trs.map((tr) => ({ item_id: tr.dataset.key, value: Number(tr.dataset.value) })));
  expect(shown).toEqual(top.items.map((i) => ({ item_id: i.item_id, value: i.value })));
  const first = await api.json(`/api/v1/items/${encodeURIComponent(top.items[0].item_id)}`);
  await expect(rows.first().locator('a').first()).toHaveText(first.name);
  await expect(rows.first().locator('a').first()).toHaveAttribute('href', `/items/${top.items[0].item_id}`);

  // Countries: the chart's bars are the countries query's top 10.
  const countries = await api.json(`/api/v1/stats/record-view-countries/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 10 })}`);
  const bars = await chartData(page, 'top-countries-chart');
  expect([...bars.categories].reverse()).toEqual(countries.items.map((i) => i.country));
  expect([...bars.series[0].data].reverse()).toEqual(countries.items.map((i) => i.value));
});

test('the data table behind the chart lists the same numbers', async ({ page }) => {
  const to = todayUTC();
  const from = addDays(to, -29);
  const views = await api.timeline('record-view-histogram', { dateStart: from, dateEnd: to, interval: 'day' });
  await page.goto('/');
  await page.getByTestId('over-time-table-toggle').locator('summary').click();
  const table = page.getByTestId('over-time-table');
  await expect(table.locator('tbody tr')).toHaveCount(views.values.length);
  await expect(table.locator('thead th')).toHaveText(['Date', 'Views', 'Downloads']);
  const column = await table.locator('tbody tr td:nth-child(2)').allTextContents();
  expect(column).toEqual(views.values.map(fmtInt));
});
