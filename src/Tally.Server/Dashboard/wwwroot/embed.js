// The embeddable chart of a saved query (/embed/{name}): full-bleed, no navigation. ?theme=dark|light
// picks the theme; every other parameter is passed on to the result API (e.g. ?days=7).

import { forceTheme, initTheme } from './js/theme.js';
import { request, buildUrl } from './js/api.js';
import { replace } from './js/dom.js';
import { errorBox } from './js/panels.js';
import { renderSaved } from './js/savedchart.js';
import { metricLabel } from './js/discover.js';

const params = new URLSearchParams(location.search);
initTheme();
forceTheme(params.get('theme'));
params.delete('theme');

const name = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const title = /** @type {HTMLElement} */ (document.querySelector('.embed-title'));
const body = /** @type {HTMLElement} */ (document.querySelector('.embed-body'));

async function main() {
  try {
    const def = await request(`/api/v1/queries/${encodeURIComponent(name)}`);
    title.textContent = def.title || def.name;
    document.title = `${def.title || def.name} · Tally`;
    const forwarded = Object.fromEntries([...new Set(params.keys())].map((k) => [k, params.getAll(k)]));
    const [result, stats] = await Promise.all([
      request(buildUrl(`/api/v1/queries/${encodeURIComponent(name)}/result`, forwarded)),
      request('/api/v1/stats').catch(() => []),
    ]);
    const stat = stats.find((q) => q.name === def.stat);
    body.removeAttribute('aria-busy');
    renderSaved(body, def, result, { name: stat ? metricLabel(stat.metric, stat.event_type) : 'Value', testid: 'embed-chart' });
    body.dataset.state = 'ready';
  } catch (e) {
    title.textContent = name || 'Saved query';
    body.removeAttribute('aria-busy');
    replace(body, errorBox(e));
    body.dataset.state = 'error';
  }
}

main();
