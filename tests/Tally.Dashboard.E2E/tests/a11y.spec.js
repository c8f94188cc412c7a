// 7 and 8. Phone width without horizontal scrolling, the theme toggle, and keyboard use of the controls.
import { test, expect, tileValue, chartData, todayUTC, addDays } from './fixtures.js';

/** A date as typed into a date input in the en-US locale: MMDDYYYY. */
const typed = (day) => `${day.slice(5, 7)}${day.slice(8, 10)}${day.slice(0, 4)}`;

/** Presses Tab until the element has focus (a date input takes a Tab per part: month, day, year). */
async function tabTo(page, testid, most = 5) {
  for (let i = 0; i < most; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((id) => document.activeElement?.dataset.testid === id, testid)) return;
  }
  throw new Error(`Tab did not reach ${testid}`);
}

test.describe('at phone width', () => {
  test.use({ viewport: { width: 375, height: 800 } });

  test('no horizontal scroll on any page, and the theme toggle switches to dark', async ({ page }) => {
    for (const path of ['/', '/counter', '/events', '/queries']) {
      await page.goto(path);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      expect(scroll, `${path} is not wider than the screen`).toBeLessThanOrEqual(inner);
    }

    await page.goto('/');
    await tileValue(page, 'tile-record-view');
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scroll).toBeLessThanOrEqual(375);
    const toggle = page.getByTestId('theme-toggle');
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await toggle.click();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect(toggle).toHaveAttribute('aria-pressed', 'true');
    const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(darkBg).not.toBe(lightBg);
    // Charts follow: axis labels take the dark theme's text colour.
    const labelColor = await page.getByTestId('over-time-chart').evaluate((el) => window.echarts.getInstanceByDom(el).getOption().yAxis[0].axisLabel.color);
    const muted = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--muted').trim());
    expect(labelColor?.toLowerCase()).toBe(muted.toLowerCase());
    // Remembered.
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect(page.getByTestId('theme-toggle')).toHaveAttribute('aria-pressed', 'true');
  });
});

test('keyboard: Tab reaches the range controls; arrows, Space and Enter operate them', async ({ page }) => {
  await page.goto('/');
  await tileValue(page, 'tile-record-view');

  // Tab from the top of the page until a range preset has focus (the checked one: 30 days).
  let name = '';
  for (let i = 0; i < 30 && name !== '30d'; i++) {
    await page.keyboard.press('Tab');
    name = await page.evaluate(() => (document.activeElement?.name?.endsWith('-range') ? document.activeElement.value : ''));
  }
  expect(name).toBe('30d');
  // Visible focus on the segmented control.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement.nextElementSibling).outlineStyle);
  expect(outline).not.toBe('none');

  // Arrow right: the next preset is chosen and shown.
  await page.keyboard.press('ArrowRight');
  await expect(page).toHaveURL(/[?&]range=90d(&|$)/);
  await expect(page.getByTestId('range-90d')).toBeFocused();
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories.length).toBe(90);

  // Tab to the custom range, type dates, Enter on Apply.
  const from = addDays(todayUTC(), -50);
  const to = addDays(todayUTC(), -36);
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('range-from')).toBeFocused();
  await page.keyboard.type(typed(from));
  await tabTo(page, 'range-to');
  await page.keyboard.type(typed(to));
  await tabTo(page, 'range-apply');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`[?&]from=${from}&to=${to}(&|$)`));
  await expect.poll(async () => (await chartData(page, 'over-time-chart')).categories.length).toBe(15);

  // Back into the presets (none is checked now): Space chooses the focused one.
  let focused = '';
  for (let i = 0; i < 10 && !focused; i++) {
    await page.keyboard.press('Shift+Tab');
    focused = await page.evaluate(() => (document.activeElement?.name?.endsWith('-range') ? document.activeElement.value : ''));
  }
  expect(['7d', '12m']).toContain(focused);
  await page.keyboard.press('Space');
  await expect(page).toHaveURL(new RegExp(`[?&]range=${focused}(&|$)`));

  // Interval, reached with Tab: arrows switch between day and month (wrapping), Enter chooses.
  const current = await page.locator('input[data-testid^="interval-"]:checked').getAttribute('value');
  const other = current === 'day' ? 'month' : 'day';
  await tabTo(page, `interval-${current}`, 12);
  await page.keyboard.press('ArrowRight');
  await expect(page).toHaveURL(new RegExp(`[?&]interval=${other}(&|$)`));
  await page.keyboard.press('ArrowLeft');
  await expect(page).toHaveURL(new RegExp(`[?&]interval=${current}(&|$)`));
  await page.getByTestId(`interval-${other}`).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`[?&]interval=${other}(&|$)`));
  await expect(page.getByTestId(`interval-${other}`)).toBeChecked();
});
