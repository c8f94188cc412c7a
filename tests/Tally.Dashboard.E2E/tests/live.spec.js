// 3. Live: an event POSTed while the overview is open shows at once; an aggregation run re-syncs.
import { test, expect, api, todayUTC, addDays, tileValue, chartData, FIREFOX } from './fixtures.js';

test('a new event raises the Views tile by one without a reload, and aggregation re-syncs it', async ({ page }) => {
  await page.goto('/');
  const before = await tileValue(page, 'tile-record-view');
  const robotsBefore = Number(await page.getByTestId('tile-robots-value').getAttribute('data-all'));
  await expect(page.getByTestId('live-indicator')).toHaveAttribute('data-state', 'open');
  await expect(page.getByTestId('live-note')).toHaveAttribute('data-state', 'live');
  const chartBefore = await chartData(page, 'over-time-chart');
  const todayIndex = chartBefore.categories.indexOf(todayUTC());
  expect(todayIndex).toBe(chartBefore.categories.length - 1);
  const todayBefore = chartBefore.series.find((s) => s.id === 'record-view').data[todayIndex];
  await page.evaluate(() => { window.__notReloaded = true; });

  await api.post('/api/v1/events', {
    type: 'record-view',
    item_id: 'record-00042',
    user_id: `e2e-live-${Date.now()}`,
    user_agent: FIREFOX,
    timestamp: new Date().toISOString(),
  });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(before + 1));
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).series.find((s) => s.id === 'record-view').data[todayIndex]).toBe(todayBefore + 1);
  await expect(page.getByTestId('tile-robots-value')).toHaveAttribute('data-all', String(robotsBefore + 1));

  // Aggregation: the page refetches quietly and shows the API's numbers (which now include the event).
  const refetch = page.waitForResponse((r) => r.url().includes('/api/v1/stats/record-view-histogram/timeline'));
  await api.post('/api/v1/admin/aggregate');
  await refetch;
  const to = todayUTC();
  const views = await api.timeline('record-view-histogram', { dateStart: addDays(to, -29), dateEnd: to, interval: 'day' });
  expect(views.total).toBe(before + 1);
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(views.total));
  await expect(page.getByTestId('over-time-chart')).toBeVisible();
  expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
});
