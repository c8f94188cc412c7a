// 2. Changing the range: the URL holds it, the numbers follow, reload keeps it, Back restores it.
import { test, expect, api, todayUTC, addDays, fmtInt, tileValue, chartData } from './fixtures.js';

test('range presets and a custom range drive the URL and the numbers', async ({ page }) => {
  const today = todayUTC();
  await page.goto('/');
  await tileValue(page, 'tile-record-view');

  // The 7-day preset.
  await page.getByTestId('range').getByText('7 days', { exact: true }).click();
  await expect(page).toHaveURL(/[?&]range=7d(&|$)/);
  const week = await api.timeline('record-view-histogram', { dateStart: addDays(today, -6), dateEnd: today, interval: 'day' });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(week.total));
  await expect(page.getByTestId('tile-record-view-value')).toHaveText(fmtInt(week.total));
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories).toEqual(week.dates);
  expect((await chartData(page, 'over-time-chart')).series[0].data).toEqual(week.values);
  await expect(page.getByTestId('range-7d')).toBeChecked();

  // A custom range, typed into the date inputs.
  const from = addDays(today, -60);
  const to = addDays(today, -46);
  await page.getByTestId('range-from').fill(from);
  await page.getByTestId('range-to').fill(to);
  await page.getByTestId('range-apply').click();
  await expect(page).toHaveURL(new RegExp(`[?&]from=${from}&to=${to}(&|$)`));
  const custom = await api.timeline('record-view-histogram', { dateStart: from, dateEnd: to, interval: 'day' });
  const customDownloads = await api.timeline('file-download-histogram', { dateStart: from, dateEnd: to, interval: 'day' });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(custom.total));
  await expect(page.getByTestId('tile-file-download-value')).toHaveAttribute('data-value', String(customDownloads.total));
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories).toEqual(custom.dates);
  await expect(page.getByTestId('range-7d')).not.toBeChecked();
  // Past ranges do not move live.
  await expect(page.getByTestId('live-note')).toHaveAttribute('data-state', 'past');

  // Reload keeps the state.
  await page.reload();
  await expect(page).toHaveURL(new RegExp(`[?&]from=${from}&to=${to}(&|$)`));
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(custom.total));
  await expect(page.getByTestId('range-from')).toHaveValue(from);
  await expect(page.getByTestId('range-to')).toHaveValue(to);

  // Back restores the 7 days, with their numbers.
  await page.goBack();
  await expect(page).toHaveURL(/[?&]range=7d(&|$)/);
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(week.total));
  await expect(page.getByTestId('range-7d')).toBeChecked();
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories).toEqual(week.dates);
});

test('month interval and a filter are part of the URL and of the API requests', async ({ page }) => {
  const today = todayUTC();
  await page.goto('/?range=90d&interval=month');
  const months = await api.timeline('record-view-histogram', { dateStart: addDays(today, -89), dateEnd: today, interval: 'month' });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(months.total));
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories).toEqual(months.dates);
  await expect(page.getByTestId('interval-month')).toBeChecked();

  // Filter by a country: the series come from a query that accepts country.
  await page.getByTestId('filter-field').selectOption('country');
  await page.getByTestId('filter-value').fill('DE');
  await page.getByTestId('filter-add').click();
  await expect(page).toHaveURL(/[?&]country=DE(&|$)/);
  const stats = await api.json('/api/v1/stats');
  const byCountry = stats.find((q) => q.event_type === 'record-view' && q.metric === 'count' && !q.include_robots && q.filters.includes('country'));
  const de = await api.timeline(byCountry.name, { dateStart: addDays(today, -89), dateEnd: today, interval: 'month', country: 'DE' });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(de.total));
  expect(de.total).toBeLessThan(months.total);
  await expect(page.getByTestId('live-note')).toHaveAttribute('data-state', 'paused');
  await expect(page.getByTestId('filter-chip-country')).toContainText('Germany');
  // Removing the chip removes the filter.
  await page.getByTestId('filter-chip-country').getByRole('button').click();
  await expect(page).not.toHaveURL(/country=/);
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(months.total));
});
