// Client-side routing over real links: <a href> works with the keyboard, middle-click and "open in new
// tab"; a plain click on a dashboard link is turned into history.pushState instead of a page load.

const listeners = new Set();
let isAppPath = () => false;

export function initRouter(appPath) {
  isAppPath = appPath;
  window.addEventListener('popstate', () => emit('pop'));
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = event.target.closest?.('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.getAttribute('rel')?.includes('external')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !isAppPath(url.pathname)) return;
    // A link to an anchor on this very page: the browser scrolls to it.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}

/** Goes to a dashboard URL: a new history entry, or with replace:true an edit of the current one. */
export function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.href);
  const next = url.pathname + url.search + url.hash;
  if (next === location.pathname + location.search + location.hash) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', next);
  emit(replace ? 'replace' : 'push');
}

export function onRoute(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(how) {
  for (const fn of listeners) fn(how);
}
