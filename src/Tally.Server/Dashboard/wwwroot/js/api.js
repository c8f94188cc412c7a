// Talking to Tally's API: JSON with problem+json errors, a small cache so unchanged panels are not
// refetched, and CSV downloads of the very URL behind a panel.

import { whenCurrent } from './view.js';

/**
 * Problem details (RFC 9457) as the server sends them; "errors" maps fields to their messages.
 * @typedef {{title?: string, detail?: string, errors?: Record<string, string | string[]>, [key: string]: any}} Problem
 */

/** An API answer that was not 2xx, with the problem details the server gave. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null | undefined} problem
   * @param {string} url
   */
  constructor(status, problem, url) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.url = url;
  }
  /**
   * Errors by field/parameter name, as problem+json "errors" gives them.
   * @returns {Record<string, string | string[]>}
   */
  get errors() {
    return this.problem.errors || {};
  }
}

/**
 * @param {Response} response
 * @returns {Promise<Problem>}
 */
async function problemOf(response) {
  const type = response.headers.get('content-type') || '';
  try {
    if (type.includes('json')) return await response.json();
    const text = await response.text();
    return { title: response.statusText, detail: text.slice(0, 300) || response.statusText };
  } catch {
    return { title: response.statusText };
  }
}

/**
 * Any request answered as JSON; throws ApiError with the problem details otherwise. A request given
 * options.signal stops when it fires (and rejects with the abort reason, not an ApiError).
 * @param {string} url
 * @param {RequestInit & {headers?: Record<string, string>}} [options]
 * @returns {Promise<any>}
 */
export async function request(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, headers: { Accept: 'application/json', ...(options.headers || {}) } });
  } catch (e) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new ApiError(0, { title: 'Tally is unreachable', detail: 'The request did not reach the server. Is it running?' }, url);
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response), url);
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

// Cache of GET promises by URL. Aggregated data (stats, COUNTER) is dropped when the server says an
// aggregation run changed something; metadata (items, query list, types) is kept for the session.
/** @type {Map<string, Promise<any>>} */
const cache = new Map();
const VOLATILE = [/^\/api\/v1\/stats\//, /^\/r51\/reports/, /^\/api\/v1\/queries/];

/**
 * GET as JSON, shared by everyone asking for the same URL until invalidated. A caller's signal stops
 * its wait, not the request: others may be waiting for the same answer, and it stays cached.
 * @param {string} url
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export function getJSON(url, signal) {
  let entry = cache.get(url);
  if (!entry) {
    entry = request(url);
    cache.set(url, entry);
    entry.catch(() => cache.delete(url));
  }
  return whenCurrent(signal, entry);
}

/**
 * Forgets aggregated answers (after an aggregation run), or those under a prefix.
 * @param {string} [prefix]
 */
export function invalidate(prefix) {
  for (const url of cache.keys()) {
    if (prefix ? url.startsWith(prefix) : VOLATILE.some((re) => re.test(url))) cache.delete(url);
  }
}

/**
 * Parameters of a URL: arrays repeat the name; null, undefined and empty values are left out.
 * @typedef {Record<string, string | number | null | undefined | (string | number)[]>} UrlParams
 */

/**
 * Builds a URL with query parameters.
 * @param {string} path
 * @param {UrlParams} [params]
 * @returns {string}
 */
export function buildUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => query.append(key, String(v)));
    else query.append(key, String(value));
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * The URL of a registered query's timeline or totals.
 * @param {string} stat
 * @param {string} view timeline or totals
 * @param {UrlParams} [params]
 * @returns {string}
 */
export const statUrl = (stat, view, params) => buildUrl(`/api/v1/stats/${encodeURIComponent(stat)}/${view}`, params);

/**
 * Saves a Blob as a file through a temporary <a download>.
 * @param {Blob} blob
 * @param {string} filename
 */
export function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 30_000);
}

/**
 * Fetches exactly `url` with Accept: text/csv and saves the bytes as they came.
 * @param {string} url
 * @param {string} filename
 */
export async function downloadCsv(url, filename) {
  const response = await fetch(url, { headers: { Accept: 'text/csv' } });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response), url);
  const blob = await response.blob();
  saveBlob(blob, filename.endsWith('.csv') ? filename : `${filename}.csv`);
}

/**
 * A file name from a label: "Views over time" → "views-over-time".
 * @param {unknown} text
 * @returns {string}
 */
export const slug = (text) => String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'tally';

// ---------- well-known resources ----------
export const listStats = () => getJSON('/api/v1/stats');
export const listTypes = () => getJSON('/api/v1/types');

/**
 * Items' metadata (null where none is known), in one request for all that are not cached yet.
 * Cached for the session. The batch lookup leaves unknown items out instead of answering 404,
 * which would be a console error.
 */
/** @type {Map<string, Promise<any>>} */
const items = new Map();
/**
 * @param {string[]} ids
 * @returns {Promise<PromiseSettledResult<any>[]>}
 */
export function itemMetas(ids) {
  const missing = [...new Set(ids)].filter((id) => !items.has(id));
  if (missing.length > 0) {
    const batch = getJSON(`/api/v1/items?${missing.map((id) => `id=${encodeURIComponent(id)}`).join('&')}`);
    for (const id of missing) {
      items.set(id, batch.then((known) => known[id] ?? null).catch((/** @type {unknown} */ e) => {
        items.delete(id);
        throw e;
      }));
    }
  }
  return Promise.allSettled(ids.map((id) => items.get(id)));
}
/**
 * One item's metadata, or null where none is known.
 * @param {string} id
 * @returns {Promise<any>}
 */
export const itemMeta = (id) => itemMetas([id]).then(([result]) => {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
});
/**
 * The display name of an item from metadata that is already known, else undefined.
 * @param {{name?: string} | null | undefined} meta
 * @returns {string | undefined}
 */
export function knownItemName(meta) {
  return meta?.name || undefined;
}
