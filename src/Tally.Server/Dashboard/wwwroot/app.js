// The dashboard's entry point: theme, live indicator, and the router that mounts a view per page.
// Views live in /assets/js/views/ and export mount(root) → {update(), unmount()}.

import { initTheme, bindThemeToggle } from './js/theme.js';
import { initRouter, onRoute } from './js/router.js';
import { connectLive, bindIndicator } from './js/live.js';
import { h, replace } from './js/dom.js';
import { errorBox } from './js/panels.js';
import { createView } from './js/view.js';

const ROUTES = [
  { name: 'overview', nav: 'overview', test: (p) => p === '/', load: () => import('./js/views/overview.js') },
  { name: 'item', nav: 'overview', test: (p) => /^\/items\/[^/]+$/.test(p), load: () => import('./js/views/item.js'), key: (p) => p },
  { name: 'counter', nav: 'counter', test: (p) => p === '/counter', load: () => import('./js/views/counter.js') },
  { name: 'events', nav: 'events', test: (p) => p === '/events', load: () => import('./js/views/events.js') },
  { name: 'queries', nav: 'queries', test: (p) => p === '/queries', load: () => import('./js/views/queries.js') },
];

/**
 * A mounted view: update() for a new URL on the same page, unmount() before another page replaces it.
 * @typedef {{update(how: import('./js/router.js').How): void, unmount?(): void}} MountedView
 */
/** @typedef {{name: string, nav: string, test: (path: string) => boolean, load: () => Promise<{mount(root: HTMLElement): MountedView}>, key?: (path: string) => string}} Route */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
/** @type {{route: Route, key: string, view: MountedView} | null} */
let current = null;
// Each page change loads its view's module; one that arrives after a later change is not mounted.
const pages = createView({
  /** @param {{route: Route, key: string, how: import('./js/router.js').How}} state */
  load: ({ route }) => route.load(),
  render(module, { route, key, how }) {
    const root = h('div', { class: `view view-${route.name}` });
    replace(main, root);
    current = { route, key, view: module.mount(root) };
    if (how === 'push' || how === 'pop') {
      window.scrollTo(0, 0);
      // Move focus to the new page's heading, so keyboard and screen-reader users start there.
      root.querySelector('h1')?.focus({ preventScroll: true });
    }
  },
  fail: (e) => replace(main, errorBox(e)),
});

/**
 * @param {string} pathname
 * @returns {Route | null}
 */
function routeOf(pathname) {
  return ROUTES.find((r) => r.test(pathname)) ?? null;
}

/** @param {import('./js/router.js').How} how */
function render(how) {
  const route = routeOf(location.pathname);
  for (const a of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('.site-nav a'))) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const key = route ? (route.key ? route.key(location.pathname) : route.name) : null;
  if (current && route && current.route === route && current.key === key) {
    current.view.update(how);
    return;
  }
  current?.view.unmount?.();
  current = null;
  if (!route || key === null) {
    pages.abort();
    replace(main, h('div', { class: 'page-head' }, h('div', {}, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', { class: 'lede' }, 'There is no dashboard page here. ', h('a', { href: '/' }, 'Go to the overview'), '.'))));
    return;
  }
  pages.run({ route, key, how });
}

initTheme();
bindThemeToggle(/** @type {HTMLButtonElement} */ (document.querySelector('.theme-toggle')));
bindIndicator(/** @type {HTMLElement} */ (document.querySelector('[data-testid="live-indicator"]')));
initRouter((pathname) => routeOf(pathname) !== null);
onRoute(render);
connectLive();
render('load');
