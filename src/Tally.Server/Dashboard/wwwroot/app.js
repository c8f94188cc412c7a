// The dashboard's entry point: theme, live indicator, and the router that mounts a view per page.
// Views live in /assets/js/views/ and export mount(root) → {update(), unmount()}.

import { initTheme, bindThemeToggle } from './js/theme.js';
import { initRouter, onRoute } from './js/router.js';
import { connectLive, bindIndicator } from './js/live.js';
import { h, replace } from './js/dom.js';
import { errorBox } from './js/panels.js';

const ROUTES = [
  { name: 'overview', nav: 'overview', test: (p) => p === '/', load: () => import('./js/views/overview.js') },
  { name: 'item', nav: 'overview', test: (p) => /^\/items\/[^/]+$/.test(p), load: () => import('./js/views/item.js'), key: (p) => p },
  { name: 'counter', nav: 'counter', test: (p) => p === '/counter', load: () => import('./js/views/counter.js') },
  { name: 'events', nav: 'events', test: (p) => p === '/events', load: () => import('./js/views/events.js') },
  { name: 'queries', nav: 'queries', test: (p) => p === '/queries', load: () => import('./js/views/queries.js') },
];

const main = document.getElementById('main');
let current = null; // {route, key, view}
let generation = 0;

function routeOf(pathname) {
  return ROUTES.find((r) => r.test(pathname)) ?? null;
}

async function render(how) {
  const route = routeOf(location.pathname);
  for (const a of document.querySelectorAll('.site-nav a')) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const key = route ? (route.key ? route.key(location.pathname) : route.name) : null;
  if (current && route && current.route === route && current.key === key) {
    current.view.update(how);
    return;
  }
  const mine = ++generation;
  current?.view.unmount?.();
  current = null;
  if (!route) {
    replace(main, h('div', { class: 'page-head' }, h('div', {}, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', { class: 'lede' }, 'There is no dashboard page here. ', h('a', { href: '/' }, 'Go to the overview'), '.'))));
    return;
  }
  let module;
  try {
    module = await route.load();
  } catch (e) {
    replace(main, errorBox(e));
    return;
  }
  if (mine !== generation) return;
  const root = h('div', { class: `view view-${route.name}` });
  replace(main, root);
  current = { route, key, view: module.mount(root) };
  if (how === 'push' || how === 'pop') {
    window.scrollTo(0, 0);
    // Move focus to the new page's heading, so keyboard and screen-reader users start there.
    root.querySelector('h1')?.focus({ preventScroll: true });
  }
}

initTheme();
bindThemeToggle(document.querySelector('.theme-toggle'));
bindIndicator(document.querySelector('[data-testid="live-indicator"]'));
initRouter((pathname) => routeOf(pathname) !== null);
onRoute(render);
connectLive();
render('load');
