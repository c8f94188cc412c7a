// 6. The other pages: item, COUNTER, raw events, saved queries (with their embed and result API).
import { test, expect, api, todayUTC, addDays, lastMonth, fmtInt, tileValue, chartData, API_KEY } from './fixtures.js';

test('item page: metadata, views against downloads, countries and institutions', async ({ page }) => {
  const to = todayUTC();
  const from = addDays(to, -29);
  const top = await api.json(`/api/v1/stats/record-view-top/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 1 })}`);
  const id = top.items[0].item_id;
  const meta = await api.json(`/api/v1/items/${encodeURIComponent(id)}`);
  const range = { dateStart: from, dateEnd: to, interval: 'day', item_id: id };
  const views = await api.timeline('record-view-histogram', range);
  const downloads = await api.timeline('file-download-histogram', range);
  const countries = await api.json(`/api/v1/stats/record-view-places/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 10, item_id: id })}`);
  const institutions = await api.json(`/api/v1/stats/record-view-places/totals?${new URLSearchParams({ dateStart: from, dateEnd: to, count: 10, groupBy: 'institution', item_id: id })}`);

  // Reached from the overview's top items.
  await page.goto('/');
  await page.getByTestId('top-items-table').locator('tbody tr').first().locator('a').first().click();
  await expect(page).toHaveURL(new RegExp(`/items/${id}$`));
  await expect(page.getByTestId('item-title')).toHaveText(meta.name);
  await expect(page.getByTestId('item-meta')).toContainText(meta.doi);
  // Retried: a tile keeps its last number, dimmed, while the next one loads.
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(views.total));
  await expect(page.getByTestId('tile-file-download-value')).toHaveAttribute('data-value', String(downloads.total));
  const chart = await chartData(page, 'item-timeline-chart');
  expect(chart.categories).toEqual(views.dates);
  expect(chart.series.map((s) => s.id)).toEqual(['record-view', 'file-download']);
  expect(chart.series[0].data).toEqual(views.values);
  expect(chart.series[1].data).toEqual(downloads.values);
  const bars = await chartData(page, 'item-countries-chart');
  expect([...bars.categories].reverse()).toEqual(countries.items.map((i) => i.country));
  const rows = page.getByTestId('item-institutions-table').locator('tbody tr');
  await expect(rows).toHaveCount(institutions.items.length);
  expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.value)))).toEqual(institutions.items.map((i) => i.value));
  // The range applies here too, and is in the URL.
  await page.getByTestId('range').getByText('7 days', { exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/items/${id}\\?range=7d$`));
  const week = await api.timeline('record-view-histogram', { dateStart: addDays(to, -6), dateEnd: to, item_id: id });
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(week.total));
});

test('an item without metadata or usage shows its id and empty panels, with no console error', async ({ page }) => {
  await page.goto('/items/no-such-item-anywhere');
  await expect(page.getByTestId('item-title')).toHaveText('no-such-item-anywhere');
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', '0');
});

test('COUNTER page: the metric-type table equals the Platform Report, and every SUSHI link answers', async ({ page }) => {
  const month = lastMonth();
  const sum = (report) => {
    const totals = {};
    for (const item of report.Report_Items) for (const p of item.Attribute_Performance) {
      for (const [metric, months] of Object.entries(p.Performance)) totals[metric] = (totals[metric] ?? 0) + (months[month] ?? 0);
    }
    return totals;
  };
  const everyone = sum(await api.json(`/r51/reports/pr?customer_id=0000000000000000&begin_date=${month}&end_date=${month}`));
  expect(everyone.Total_Item_Investigations).toBeGreaterThan(0);

  await page.goto('/counter');
  await expect(page.getByTestId('counter-month')).toHaveValue(month); // the last complete month by default
  const metrics = ['Total_Item_Investigations', 'Unique_Item_Investigations', 'Unique_Title_Investigations', 'Total_Item_Requests', 'Unique_Item_Requests', 'Unique_Title_Requests', 'No_License', 'Limit_Exceeded', 'Searches_Platform'];
  const table = page.getByTestId('counter-table');
  await expect(table.locator('tbody tr')).toHaveCount(metrics.length);
  for (const metric of metrics) {
    const cell = table.locator(`tr[data-metric="${metric}"] [data-month="${month}"]`);
    await expect(cell).toHaveAttribute('data-value', String(everyone[metric] ?? 0));
    await expect(cell).toHaveText(fmtInt(everyone[metric] ?? 0));
  }

  // Another institution, chosen in the select: URL and numbers follow.
  await page.getByTestId('counter-customer').selectOption('demo-university');
  await expect(page).toHaveURL(/customer_id=demo-university/);
  const demo = sum(await api.json(`/r51/reports/pr?customer_id=demo-university&begin_date=${month}&end_date=${month}`));
  await expect(table.locator(`tr[data-metric="Total_Item_Investigations"] [data-month="${month}"]`)).toHaveAttribute('data-value', String(demo.Total_Item_Investigations ?? 0));
  expect(demo.Total_Item_Investigations).toBeLessThan(everyone.Total_Item_Investigations);

  // Links to every report the server offers, as JSON and TSV, for that month and institution.
  const offered = await api.json('/r51/reports');
  const links = page.locator('a[data-testid^="sushi-"]');
  await expect(links).toHaveCount(offered.length * 2);
  const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const href of hrefs) {
    expect(href).toContain(`begin_date=${month}`);
    expect(href).toContain('customer_id=demo-university');
    expect(await api.status(href), href).toBe(200);
  }
  expect(hrefs.filter((h) => h.includes('format=tsv'))).toHaveLength(offered.length);
});

test('events browser: type filter, paging, totals and row details match the API', async ({ page }) => {
  const start = `${addDays(todayUTC(), -2)}T00:00:00Z`;
  const end = `${addDays(todayUTC(), -1)}T00:00:00Z`;
  await page.goto(`/events?${new URLSearchParams({ start, end })}`);
  await expect(page.getByTestId('events-total')).toHaveAttribute('data-total', /^\d+$/);

  await page.getByTestId('events-type-file-download').check();
  await expect(page).toHaveURL(/[?&]type=file-download(&|$)/);
  await page.getByTestId('events-rows').selectOption('10');
  await expect(page).toHaveURL(/[?&]rows_per_page=10(&|$)/);

  const query = { start, end, type: 'file-download', rows_per_page: '10' };
  const first = await api.json(`/api/v1/events?${new URLSearchParams(query)}`);
  expect(first.total).toBeGreaterThan(20);
  await expect(page.getByTestId('events-total')).toHaveAttribute('data-total', String(first.total));
  await expect(page.getByTestId('events-total')).toHaveText(`${fmtInt(first.total)} events`);
  await expect(page.getByTestId('page-of').first()).toHaveText(`Page 1 of ${fmtInt(first.pages)}`);
  const rows = page.getByTestId('events-table').locator('tbody tr:not(.detail)');
  await expect(rows).toHaveCount(10);
  expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.type))).toEqual(Array(10).fill('file-download'));
  expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id))).toEqual(first.raw_messages.map((m) => m.id));

  // Next page: other rows, the API's second page.
  await page.getByTestId('events-pager').getByTestId('page-next').click();
  await expect(page).toHaveURL(/[?&]page=2(&|$)/);
  const second = await api.json(`/api/v1/events?${new URLSearchParams({ ...query, page: '2' })}`);
  await expect(page.getByTestId('page-of').first()).toHaveText(`Page 2 of ${fmtInt(second.pages)}`);
  await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id))).toEqual(second.raw_messages.map((m) => m.id));
  expect(second.raw_messages[0].id).not.toBe(first.raw_messages[0].id);

  // Expand a row: its data as JSON.
  const expand = rows.first().getByTestId('event-expand');
  await expect(expand).toHaveAttribute('aria-expanded', 'false');
  await expand.click();
  await expect(expand).toHaveAttribute('aria-expanded', 'true');
  const json = page.getByTestId('event-json').first();
  await expect(json).toBeVisible();
  expect(JSON.parse(await json.textContent())).toEqual(second.raw_messages[0]);

  // Robot events are badged. About one event in forty is a robot's, so a page of 100 may hold none: the
  // window ends just after that day's newest robot view, which puts it on the first page whatever the date.
  const newestRobot = (await api.json(`/api/v1/events?${new URLSearchParams({ start, end, type: 'record-view', robot: 'true', rows_per_page: '1' })}`)).raw_messages[0];
  expect(newestRobot).toBeDefined();
  const robotEnd = new Date(Date.parse(newestRobot.timestamp) + 1000).toISOString();
  const withRobots = await api.json(`/api/v1/events?${new URLSearchParams({ start, end: robotEnd, type: 'record-view', rows_per_page: '100' })}`);
  const robotIds = withRobots.raw_messages.filter((m) => m.robot).map((m) => m.id);
  expect(robotIds).toContain(newestRobot.id);
  await page.goto(`/events?${new URLSearchParams({ start, end: robotEnd, type: 'record-view', rows_per_page: '100' })}`);
  await expect(page.getByTestId('robot-badge')).toHaveCount(robotIds.length);

  // A negated field filter, added with the controls.
  await page.getByTestId('filter-field').selectOption('country');
  await page.getByTestId('filter-op').selectOption('not');
  await page.getByTestId('filter-value').fill('US');
  await page.getByTestId('filter-add').click();
  await expect(page).toHaveURL(/[?&]not_country=US(&|$)/);
  const notUs = await api.json(`/api/v1/events?${new URLSearchParams({ start, end: robotEnd, type: 'record-view', rows_per_page: '100', not_country: 'US' })}`);
  await expect(page.getByTestId('events-total')).toHaveAttribute('data-total', String(notUs.total));
  expect(notUs.total).toBeLessThan(withRobots.total);
});

test.describe('saved queries', () => {
  test.use({ allowedConsoleErrors: [/status of 401/] });

  test('save the overview, embed it, read its result API, delete it', async ({ page, context }) => {
    await page.goto('/');
    await tileValue(page, 'tile-record-view');
    await page.getByTestId('save-view').click();
    await expect(page).toHaveURL(/\/queries\?new=1&stat=record-view-histogram/);
    await expect(page.getByTestId('q-stat')).toHaveValue('record-view-histogram');
    await expect(page.getByTestId('q-range')).toHaveValue('30');
    await expect(page.getByTestId('q-title')).toHaveValue('Views over time');
    await expect(page.getByTestId('q-preview-chart')).toBeVisible();

    const name = `e2e-views-${Date.now()}`;
    await page.getByTestId('q-name').fill(name);
    // A wrong key: the server's problem is shown next to the key.
    await page.getByTestId('q-key').fill('not-a-key-at-all-000');
    await page.getByTestId('q-save').click();
    await expect(page.getByTestId('q-error-key')).not.toBeEmpty();
    await page.getByTestId('q-key').fill(API_KEY());
    await page.getByTestId('q-save').click();
    const card = page.getByTestId(`query-${name}`);
    await expect(card).toBeVisible();
    await expect(card).toContainText('Views over time');

    const saved = await api.json(`/api/v1/queries/${name}`);
    expect(saved).toMatchObject({ stat: 'record-view-histogram', view: 'timeline', chart: 'area', params: { days: '30', interval: 'day' } });
    const result = await api.json(`/api/v1/queries/${name}/result`);
    expect(result).toEqual(await api.json('/api/v1/stats/record-view-histogram/timeline?days=30&interval=day'));
    await expect(card.getByTestId(`embed-url-${name}`)).toHaveValue(api.url(saved.links.embed));
    await expect(card.getByTestId(`snippet-${name}`)).toHaveValue(new RegExp(`<iframe src="${api.url(saved.links.embed)}"`));

    // The embed page draws the result.
    const embed = await context.newPage();
    await embed.goto(saved.links.embed);
    await expect(embed.getByTestId('embed-title')).toHaveText('Views over time');
    const drawn = await chartData(embed, 'embed-chart');
    expect(drawn.series[0].data).toEqual(result.map((r) => r.value));
    expect(drawn.categories).toEqual(result.map((r) => r.date));
    await embed.goto(`${saved.links.embed}?theme=dark&days=7`);
    await expect(embed.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect.poll(async () => (await chartData(embed, 'embed-chart')).categories.length).toBe(7);
    await embed.close();

    // Delete (asks to confirm).
    await card.getByTestId(`delete-${name}`).click();
    await expect(card.getByTestId(`delete-${name}`)).toHaveText('Confirm delete');
    await card.getByTestId(`delete-${name}`).click();
    await expect(page.getByTestId(`query-${name}`)).toHaveCount(0);
    expect(await api.status(`/api/v1/queries/${name}`)).toBe(404);
  });
});
