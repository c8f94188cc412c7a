// Playwright end-to-end tests of the Tally dashboard, in Debian's Chromium (never a downloaded browser).
//
//   cd tests/Tally.Dashboard.E2E && npm ci && npx playwright test
//
// global-setup.js starts Tally itself: the binary from TALLY_BIN (default: the Release build), a fresh
// temporary data folder seeded with `tally demo --days 90`, then `tally serve` on a free port with an
// admin key of its own (no --demo, so no random traffic: numbers stay put). Set E2E_KEEP=1 to keep the
// data folder and server log after the run.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  workers: 1,
  retries: 0,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  globalTimeout: 15 * 60_000,
  reporter: [['list'], ['junit', { outputFile: process.env.PLAYWRIGHT_JUNIT_OUTPUT_NAME || 'results/junit.xml' }]],
  outputDir: 'results/artifacts',
  globalSetup: './global-setup.js',
  globalTeardown: './global-teardown.js',
  use: {
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    acceptDownloads: true,
    actionTimeout: 10_000,
    navigationTimeout: 20_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox'],
    },
  },
});
