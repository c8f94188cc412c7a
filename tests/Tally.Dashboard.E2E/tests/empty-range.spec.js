// An empty range says where the data is: after old logs are imported, the default 30 days are empty, and
// the page must point to the days that have data, with a link that shows them. And the unique-visitor
// figure says how it is counted.
import { test, expect, api } from './fixtures.js';

const DATE = '\\d{4}-\\d{2}-\\d{2}';

test('an empty range points to the days that have data, and one click shows them', async ({ page }) => {
  const extents = await Promise.all(['record-view-histogram', 'file-download-histogram'].map((q) => api.json(`/api/v1/stats/${q}/extent`)));
  const first = extents.map((e) => e.first).sort()[0];
  const last = extents.map((e) => e.last).sort().at(-1);

  await page.goto('/?from=2015-05-17&to=2015-05-20');
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', '0');
  const hint = page.getByTestId('range-hint');
  await expect(hint).toHaveText(`No data in this range; data runs from ${first} to ${last} — show that range`);
  await expect(hint).toHaveAttribute('role', 'status');

  await hint.getByTestId('range-hint-link').click();
  await expect(page).toHaveURL(new RegExp(`[?&]from=${first}&to=${last}(&|$)`));
  const shown = await api.timeline('record-view-histogram', { dateStart: first, dateEnd: last, interval: 'day' });
  expect(shown.total).toBeGreaterThan(0);
  await expect(page.getByTestId('tile-record-view-value')).toHaveAttribute('data-value', String(shown.total));
  await expect(hint).toBeHidden();

  // Back to the empty range: the hint again, and the same on an item page, for its item.
  await page.goBack();
  await expect(hint).toBeVisible();
  const [top] = (await api.json(`/api/v1/stats/record-view-top/totals?dateStart=${first}&dateEnd=${last}&count=1`)).items;
  await page.goto(`/items/${encodeURIComponent(top.item_id)}?from=2015-05-17&to=2015-05-20`);
  await expect(page.getByTestId('range-hint')).toHaveText(new RegExp(`^No data for this item in this range; data runs from ${DATE} to ${DATE} — show that range$`));
  await page.getByTestId('range-hint-link').click();
  await expect(page).toHaveURL(new RegExp(`^[^?]*/items/[^?]+\\?from=${DATE}&to=${DATE}$`));
  await expect(page.getByTestId('range-hint')).toBeHidden();
});

test('the unique visitors figure says how visitors are counted', async ({ page }) => {
  await page.goto('/');
  const note = page.getByTestId('tile-visitors-note');
  await expect(note).toBeVisible();
  await note.getByText('How is this counted?').click();
  await expect(note.locator('p')).toHaveText('Unique visitors are counted per day: visitor ids are salted daily and never linked across days '
    + "(as Plausible does), so a range's figure is the sum of its daily unique visitors.");
  await expect(note.locator('p')).toBeVisible();
  await expect(page.getByTestId('tile-visitors')).toHaveAttribute('title', /counted per day/);
});
