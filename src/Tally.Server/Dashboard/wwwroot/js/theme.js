// Light and dark themes: the system's preference by default; the header's toggle stores a choice in
// localStorage. Charts and other listeners are told when the effective theme changes.

const KEY = 'tally.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');
const listeners = new Set();

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'dark' || value === 'light' ? value : null;
  } catch {
    return null;
  }
}

/** The theme in effect: 'light' or 'dark'. */
export function currentTheme() {
  const forced = document.documentElement.getAttribute('data-theme');
  if (forced === 'dark' || forced === 'light') return forced;
  return media.matches ? 'dark' : 'light';
}

export function onThemeChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  const theme = currentTheme();
  for (const fn of listeners) fn(theme);
}

/** Applies a theme (remembered), or null to follow the system again. */
export function setTheme(theme) {
  try {
    if (theme) localStorage.setItem(KEY, theme);
    else localStorage.removeItem(KEY);
  } catch { /* private mode: not remembered */ }
  if (theme) document.documentElement.setAttribute('data-theme', theme);
  else document.documentElement.removeAttribute('data-theme');
  notify();
}

/** Applies ?theme=dark|light without remembering it (embeds). */
export function forceTheme(theme) {
  if (theme === 'dark' || theme === 'light') document.documentElement.setAttribute('data-theme', theme);
}

export function initTheme() {
  const choice = stored();
  if (choice) document.documentElement.setAttribute('data-theme', choice);
  media.addEventListener('change', () => {
    if (!document.documentElement.hasAttribute('data-theme')) notify();
  });
}

/** Wires the header's toggle button: its pressed state says "dark theme is on". */
export function bindThemeToggle(button) {
  const label = button.querySelector('.visually-hidden');
  const render = () => {
    const dark = currentTheme() === 'dark';
    button.setAttribute('aria-pressed', String(dark));
    button.title = dark ? 'Switch to light theme' : 'Switch to dark theme';
    if (label) label.textContent = 'Dark theme';
  };
  button.addEventListener('click', () => setTheme(currentTheme() === 'dark' ? 'light' : 'dark'));
  onThemeChange(render);
  render();
}
