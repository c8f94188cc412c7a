// Client-side routing over real links: <a href> works with the keyboard, middle-click and "open in new
// tab"; a plain click on a dashboard link is turned into history.pushState instead of a page load.

/**
 * How a page update came about: the first load, a link or navigate() (push), back/forward (pop), an edit
 * of the current entry (replace), or new data while the URL stays (quiet: the old numbers stay up while loading).
 * @typedef {'load' | 'push' | 'pop' | 'replace' | 'quiet'} How
 */

/** @type {Set<(how: How) => void>} */
const listeners = new Set();
/** @type {(pathname: string) => boolean} */
let isAppPath = () => false;

/**
 * The parts of a click that decide whether the browser should handle it itself.
 * @typedef {{defaultPrevented: boolean, button: number, metaKey: boolean, ctrlKey: boolean, shiftKey: boolean, altKey: boolean}} Click
 */

/**
 * The parts of a link that decide where it goes and who follows it.
 * @typedef {{href: string, target: string, download: boolean, rel: string | null}} Link
 */

/**
 * Where a click on a link goes inside the dashboard (path, query and hash), or null when the browser
 * should follow it: a modified or handled click, a link to a new tab, a download, an external or
 * other-origin link, a path the dashboard does not serve, or an anchor on this very page.
 * @param {Click} click
 * @param {Link} link
 * @param {URL} here the current location
 * @param {(pathname: string) => boolean} appPath
 * @returns {string | null}
 */
export function clientRoute(click, link, here, appPath) {
  if (click.defaultPrevented || click.button !== 0 || click.metaKey || click.ctrlKey || click.shiftKey || click.altKey) return null;
  if (link.target || link.download || link.rel?.includes('external')) return null;
  const url = new URL(link.href, here);
  if (url.origin !== here.origin || !appPath(url.pathname)) return null;
  // A link to an anchor on this very page: the browser scrolls to it.
  if (url.hash && url.pathname === here.pathname && url.search === here.search) return null;
  return url.pathname + url.search + url.hash;
}

/**
 * The history entry a navigation makes, or null when it would not change the URL.
 * @param {string} href absolute, or relative to here
 * @param {URL} here
 * @returns {string | null}
 */
export function nextEntry(href, here) {
  const url = new URL(href, here);
  const next = url.pathname + url.search + url.hash;
  return next === here.pathname + here.search + here.hash ? null : next;
}

/**
 * Routes clicks on dashboard links and back/forward through the listeners.
 * @param {(pathname: string) => boolean} appPath whether the dashboard serves a path
 */
export function initRouter(appPath) {
  isAppPath = appPath;
  window.addEventListener('popstate', () => emit('pop'));
  document.addEventListener('click', (event) => {
    const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
    if (!(a instanceof HTMLAnchorElement)) return;
    const link = { href: a.href, target: a.target, download: a.hasAttribute('download'), rel: a.getAttribute('rel') };
    const next = clientRoute(event, link, new URL(location.href), isAppPath);
    if (next === null) return;
    event.preventDefault();
    navigate(next);
  });
}

/**
 * Goes to a dashboard URL: a new history entry, or with replace:true an edit of the current one.
 * @param {string} href
 * @param {{replace?: boolean}} [options]
 */
export function navigate(href, { replace = false } = {}) {
  const next = nextEntry(href, new URL(location.href));
  if (next === null) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', next);
  emit(replace ? 'replace' : 'push');
}

/**
 * @param {(how: How) => void} fn
 * @returns {() => void} unsubscribes
 */
export function onRoute(fn) {
  listeners.add(fn);
  return () => { listeners.delete(fn); };
}

/** @param {How} how */
function emit(how) {
  for (const fn of listeners) fn(how);
}
