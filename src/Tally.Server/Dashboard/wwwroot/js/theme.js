// Light and dark themes: the system's preference by default; the header's toggle stores a choice in
// localStorage. Charts and other listeners are told when the effective theme changes.

const KEY = 'tally.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');
const listeners = new Set();
/** An embed's ?theme= holds whatever the system does. */
let pinned = false;

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'dark' || value === 'light' ? value : null;
  } catch {
    return null;
  }
}

const systemTheme = () => (media.matches ? 'dark' : 'light');

/** The theme in effect: 'light' or 'dark' (theme-init.js always sets the attribute). */
export function currentTheme() {
  const theme = document.documentElement.getAttribute('data-theme');
  return theme === 'dark' || theme === 'light' ? theme : systemTheme();
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
  document.documentElement.setAttribute('data-theme', theme || systemTheme());
  notify();
}

/** Applies ?theme=dark|light without remembering it (embeds). */
export function forceTheme(theme) {
  if (theme !== 'dark' && theme !== 'light') return;
  pinned = true;
  document.documentElement.setAttribute('data-theme', theme);
}

export function initTheme() {
  document.documentElement.setAttribute('data-theme', stored() || systemTheme());
  media.addEventListener('change', () => {
    if (pinned || stored()) return;
    document.documentElement.setAttribute('data-theme', systemTheme());
    notify();
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
