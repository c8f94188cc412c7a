import { test } from 'node:test';
import assert from 'node:assert/strict';
import { typeColorIndex, seriesColor } from '../../src/Tally.Server/Dashboard/wwwroot/js/colors.js';

test('views and downloads keep their colours wherever they are listed', () => {
  assert.equal(typeColorIndex('record-view', 5), 0);
  assert.equal(typeColorIndex('file-download', 0), 1);
});

test('other types share the rest of the palette by position, never the fixed colours', () => {
  const indexes = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => typeColorIndex('search', i));
  assert.deepEqual(indexes, [2, 3, 4, 5, 2, 3, 4, 5]);
});

test('series colours are CSS references that wrap around the six palette entries', () => {
  assert.equal(seriesColor(0), 'var(--c1)');
  assert.equal(seriesColor(5), 'var(--c6)');
  assert.equal(seriesColor(6), 'var(--c1)');
});
