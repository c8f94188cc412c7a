// Shared fixtures: the server's base URL and key, an API helper, and a console watch that fails any
// test whose pages logged an error or threw (collected on every page of the test's browser context).
import fs from 'node:fs';
import { test as base, expect } from '@playwright/test';

export const BASE_URL = () => process.env.TALLY_E2E_BASE_URL;
export const API_KEY = () => process.env.TALLY_E2E_KEY;
export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';

/** Talking to the server directly, to know what the page should show. */
export const api = {
  url: (path) => `${BASE_URL()}${path}`,
  async json(path) {
    const response = await fetch(api.url(path), { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  },
  async bytes(path, accept = 'text/csv') {
    const response = await fetch(api.url(path), { headers: { Accept: accept } });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  },
  async status(path) {
    return (await fetch(api.url(path))).status;
  },
  async post(path, body) {
    const response = await fetch(api.url(path), {
      method: 'POST',
      headers: { Authorization: `Bearer ${API_KEY()}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : response.json().catch(() => null);
  },
  /** The sum of a timeline's values, and the values, for a registered query. */
  async timeline(stat, params) {
    const rows = await api.json(`/api/v1/stats/${stat}/timeline?${new URLSearchParams(params)}`);
    return { rows, dates: rows.map((r) => r.date), values: rows.map((r) => r.value), total: rows.reduce((a, r) => a + r.value, 0) };
  },
};

// ---------- dates, in UTC as Tally counts them ----------
export const todayUTC = () => new Date().toISOString().slice(0, 10);
export const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
export const lastMonth = () => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
};
export const fmtInt = (n) => new Intl.NumberFormat('en-US').format(n);

// ---------- reading the page ----------
/** Waits until a tile shows a number and returns it. */
export async function tileValue(page, testid) {
  const value = page.getByTestId(`${testid}-value`);
  await expect(value).toHaveAttribute('data-value', /^[0-9.]+$/);
  return Number(await value.getAttribute('data-value'));
}

/** The option of the ECharts instance in an element: axis categories and series data. */
export async function chartData(page, testid) {
  const el = page.getByTestId(testid);
  await expect(el).toBeVisible();
  return el.evaluate((node) => {
    const option = window.echarts.getInstanceByDom(node).getOption();
    return {
      categories: [].concat(option.xAxis ?? [])[0]?.data ?? [].concat(option.yAxis ?? [])[0]?.data ?? null,
      series: option.series.map((s) => ({ id: s.id, name: s.name, data: s.data.map((d) => (typeof d === 'object' && d !== null ? d.value : d)) })),
    };
  });
}

export const test = base.extend({
  baseURL: async ({}, use) => use(BASE_URL()),

  /** Console errors a test provokes on purpose (say, a 401 it shows to the user): regular expressions. */
  allowedConsoleErrors: async ({}, use) => use([]),

  /** Console errors and uncaught exceptions of every page in the test; none is allowed. */
  consoleErrors: [async ({ context, page, allowedConsoleErrors }, use, testInfo) => {
    const errors = [];
    const watch = (p) => {
      p.on('console', (message) => {
        if (message.type() !== 'error') return;
        if (allowedConsoleErrors.some((re) => re.test(message.text()))) return;
        errors.push(`console error on ${p.url()}: ${message.text()}`);
      });
      p.on('pageerror', (error) => errors.push(`uncaught on ${p.url()}: ${error.message}`));
    };
    watch(page);
    context.on('page', watch);
    await use(errors);
    if (testInfo.status !== testInfo.expectedStatus) {
      const log = process.env.TALLY_E2E_ERR_LOG;
      if (log && fs.existsSync(log)) {
        const tail = fs.readFileSync(log, 'utf8').slice(-6000);
        if (tail.trim()) {
          console.log(`--- Tally server stderr (last 6000 characters) ---\n${tail}`);
          await testInfo.attach('tally-server-stderr.log', { body: tail, contentType: 'text/plain' });
        }
      }
      if (errors.length) console.log(`--- browser console errors ---\n${errors.join('\n')}`);
      return;
    }
    expect(errors, 'the pages logged no console errors').toEqual([]);
  }, { auto: true }],
});

export { expect };
