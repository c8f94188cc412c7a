import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientRoute, nextEntry } from '../../src/Tally.Server/Dashboard/wwwroot/js/router.js';

const here = new URL('http://tally.test/events?page=2');
const plain = { defaultPrevented: false, button: 0, metaKey: false, ctrlKey: false, shiftKey: false, altKey: false };
const link = (href, props = {}) => ({ href, target: '', download: false, rel: null, ...props });
const dashboard = (path) => path === '/' || path === '/events' || path.startsWith('/items/');

test('a plain click on a dashboard link stays in the page, with its query and hash', () => {
  assert.equal(clientRoute(plain, link('/items/a%2Fb?range=7d#top'), here, dashboard), '/items/a%2Fb?range=7d#top');
  assert.equal(clientRoute(plain, link('http://tally.test/'), here, dashboard), '/');
});

test('modified, non-primary and already handled clicks are left to the browser', () => {
  for (const change of [{ metaKey: true }, { ctrlKey: true }, { shiftKey: true }, { altKey: true }, { button: 1 }, { defaultPrevented: true }]) {
    assert.equal(clientRoute({ ...plain, ...change }, link('/'), here, dashboard), null, JSON.stringify(change));
  }
});

test('new tabs, downloads, external links, other origins and other paths are left to the browser', () => {
  assert.equal(clientRoute(plain, link('/', { target: '_blank' }), here, dashboard), null);
  assert.equal(clientRoute(plain, link('/', { download: true }), here, dashboard), null);
  assert.equal(clientRoute(plain, link('/', { rel: 'external noopener' }), here, dashboard), null);
  assert.equal(clientRoute(plain, link('http://elsewhere.test/'), here, dashboard), null);
  assert.equal(clientRoute(plain, link('/api/v1/stats'), here, dashboard), null);
  assert.equal(clientRoute(plain, link('/openapi/v1.json'), here, dashboard), null);
});

test('an anchor on this very page scrolls; the same anchor on another page or query navigates', () => {
  assert.equal(clientRoute(plain, link('/events?page=2#results'), here, dashboard), null);
  assert.equal(clientRoute(plain, link('/events?page=3#results'), here, dashboard), '/events?page=3#results');
  assert.equal(clientRoute(plain, link('/#results'), here, dashboard), '/#results');
});

test('navigating to where the page already is makes no history entry', () => {
  assert.equal(nextEntry('/events?page=2', here), null);
  assert.equal(nextEntry('http://tally.test/events?page=2', here), null);
  assert.equal(nextEntry('?page=3', here), '/events?page=3');
  assert.equal(nextEntry('/events', here), '/events');
  assert.equal(nextEntry('/events?page=2#x', here), '/events?page=2#x');
});
