// ECharts, themed from the page's CSS custom properties, with PNG and SVG export.
// On screen every chart uses the canvas renderer (fast with many points); PNG comes straight from that
// canvas, SVG from a short-lived SVG-renderer instance given the same option.

import { cssVar, resolveColor } from './colors.js';
import { fmtCompact, fmtDayShort, fmtMonthShort, fmtNum, fmtDay, fmtMonth, escapeHtml } from './format.js';
import { currentTheme, onThemeChange } from './theme.js';
import { saveBlob } from './api.js';

/** @typedef {import('echarts').EChartsOption} Option */
/** @typedef {(data: any, options: {exporting?: boolean}) => Option} OptionBuilder builds the ECharts option for a chart's data */
/**
 * A chart on the page, with its data, and PNG and SVG export.
 * @typedef {object} Chart
 * @property {HTMLElement} el
 * @property {ReturnType<Window['echarts']['init']>} instance
 * @property {any} data
 * @property {(next: any) => void} set draws new data (a full redraw)
 * @property {(next: any, option?: Option) => void} patch a small change of the same shape, merged and animated
 * @property {(name: string) => void} retheme
 * @property {(filename: string) => void} png
 * @property {(filename: string) => void} svg
 * @property {() => string} svgString
 * @property {() => void} dispose
 */

const echarts = () => window.echarts;
/** @type {Set<Chart>} */
const live = new Set();
let registered = '';

/** Registers the current CSS palette as an ECharts theme and returns its name. */
function themeName() {
  const name = `tally-${currentTheme()}`;
  if (registered === name) return name;
  const text = cssVar('--text');
  const muted = cssVar('--muted');
  const border = cssVar('--border');
  const surface = cssVar('--surface');
  echarts().registerTheme(name, {
    color: [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--c${i}`)),
    backgroundColor: 'transparent',
    textStyle: { color: text, fontFamily: getComputedStyle(document.body).fontFamily.replace(/"/g, "'") },
    legend: { textStyle: { color: muted }, pageTextStyle: { color: muted } },
    tooltip: {
      backgroundColor: surface,
      borderColor: cssVar('--border-strong'),
      textStyle: { color: text },
      extraCssText: 'box-shadow: 0 6px 20px rgb(0 0 0 / 18%); border-radius: 8px;',
    },
    categoryAxis: {
      axisLine: { lineStyle: { color: cssVar('--border-strong') } },
      axisTick: { show: false },
      axisLabel: { color: muted },
      splitLine: { show: false },
    },
    valueAxis: {
      axisLine: { show: false },
      axisLabel: { color: muted },
      splitLine: { lineStyle: { color: border } },
    },
    pie: { itemStyle: { borderColor: surface, borderWidth: 2 } },
    bar: { itemStyle: { borderRadius: [3, 3, 0, 0] } },
  });
  registered = name;
  return name;
}

onThemeChange(() => {
  const name = themeName();
  for (const chart of live) {
    // A chart whose element left the page without dispose(): let it go now.
    if (!chart.el.isConnected || chart.instance.isDisposed()) chart.dispose();
    else chart.retheme(name);
  }
});

/**
 * A chart in `el`. `build(data, {exporting})` returns the ECharts option for the data, reading colours
 * at call time, so a theme change redraws with the new palette.
 * @param {HTMLElement} el
 * @param {OptionBuilder} build
 * @returns {Chart}
 */
export function createChart(el, build) {
  const instance = echarts().init(el, themeName(), { renderer: 'canvas' });
  /** @type {any} */
  let data = null;
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => instance.isDisposed() || instance.resize());
  });
  observer.observe(el);

  /** @type {Chart} */
  const chart = {
    el,
    instance,
    get data() { return data; },
    /** Draws new data (a full redraw). */
    set(next) {
      data = next;
      instance.setOption(build(data, {}), { notMerge: true });
    },
    /** Small change of the same shape, such as a live count: merged, animated, no full redraw. */
    patch(next, option) {
      data = next;
      instance.setOption(option ?? build(data, {}), { lazyUpdate: true });
    },
    retheme(name) {
      instance.setTheme(name);
      if (data) instance.setOption(build(data, {}), { notMerge: true });
    },
    /** PNG at twice the pixel density, on the panel's background so it reads outside the page. */
    png(filename) {
      const url = instance.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: cssVar('--surface') });
      saveBlob(dataUrlToBlob(url), filename);
    },
    svg(filename) {
      saveBlob(new Blob([chart.svgString()], { type: 'image/svg+xml' }), filename);
    },
    /** The chart as an SVG document, rendered by a temporary SVG-renderer instance of the same size. */
    svgString() {
      const width = instance.getWidth();
      const height = instance.getHeight();
      const host = document.createElement('div');
      host.style.cssText = `position:fixed;left:-20000px;top:0;width:${width}px;height:${height}px;`;
      document.body.append(host);
      const offscreen = echarts().init(host, themeName(), { renderer: 'svg', width, height });
      try {
        offscreen.setOption({ ...build(data, { exporting: true }), animation: false, backgroundColor: cssVar('--surface') });
        return offscreen.renderToSVGString();
      } finally {
        offscreen.dispose();
        host.remove();
      }
    },
    dispose() {
      observer.disconnect();
      cancelAnimationFrame(frame);
      live.delete(chart);
      if (!instance.isDisposed()) instance.dispose();
    },
  };
  live.add(chart);
  return chart;
}

function dataUrlToBlob(url) {
  const [head, body] = url.split(',');
  const type = head.slice(5).split(';')[0];
  const bytes = atob(body);
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
  return new Blob([array], { type });
}

const color = (i) => cssVar(`--c${(i % 6) + 1}`);

/** A vertical fade from the series colour, in rgba so an exported SVG renders anywhere. */
function gradient(hex, top) {
  return {
    type: 'linear', x: 0, y: 0, x2: 0, y2: 1,
    colorStops: [{ offset: 0, color: toRgba(hex, top) }, { offset: 1, color: toRgba(hex, 0.01) }],
    global: false,
  };
}

function toRgba(hex, alpha) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${alpha})`;
}

/** @param {number} [top] @returns {import('echarts').GridComponentOption} */
const grid = (top = 40) => ({ left: 6, right: 18, top, bottom: 6, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' });

/**
 * Values over time. data: {dates: ['YYYY-MM-DD'…], interval, series: [{id, name, data: [n…], color}], kind: line|area|bar}.
 * @param {any} data
 * @returns {Option}
 */
export function timelineOption(data) {
  const { dates, interval, series, kind = 'area', format = fmtNum } = data;
  // Dates are formatted per interval; other categories (totals per country…) by data.label.
  const short = data.label ?? ((d) => (interval === 'month' ? fmtMonthShort(d) : fmtDayShort(d)));
  const long = data.label ?? ((d) => (interval === 'month' ? fmtMonth(d) : fmtDay(d)));
  // Dots on the line only while they have room (a phone shows them for two weeks, a desktop for six).
  const few = dates.length <= (window.innerWidth < 640 ? 14 : 45);
  return {
    animationDuration: 450,
    animationDurationUpdate: 300,
    grid: grid(series.length > 1 ? 40 : 20),
    legend: series.length > 1 ? { top: 0, left: 0, icon: 'roundRect', itemWidth: 14, itemHeight: 6, itemGap: 16 } : { show: false },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: kind === 'bar' ? 'shadow' : 'line' },
      formatter: (items) => {
        const list = [].concat(items);
        const head = `<div style="font-weight:650;margin-bottom:4px">${escapeHtml(long(list[0]?.axisValue ?? ''))}</div>`;
        return head + list.map((p) => `<div style="display:flex;gap:14px;justify-content:space-between"><span>${p.marker}${escapeHtml(p.seriesName)}</span><b>${escapeHtml(format(p.value))}</b></div>`).join('');
      },
    },
    xAxis: {
      type: 'category',
      data: dates,
      boundaryGap: kind === 'bar',
      axisLabel: { hideOverlap: true, formatter: short },
      axisPointer: { label: { formatter: ({ value }) => long(value) } },
    },
    yAxis: { type: 'value', minInterval: 1, axisLabel: { formatter: (v) => fmtCompact(v) } },
    series: series.map((s) => {
      const c = resolveColor(s.color) ?? color(0);
      return {
        id: s.id,
        name: s.name,
        type: kind === 'bar' ? 'bar' : 'line',
        data: s.data,
        color: c,
        symbol: 'circle',
        symbolSize: 5,
        showSymbol: few && kind !== 'bar',
        lineStyle: { width: 2.2 },
        barMaxWidth: 28,
        areaStyle: kind === 'area' ? { color: gradient(c, series.length > 1 ? 0.18 : 0.28) } : undefined,
        emphasis: { focus: 'series' },
      };
    }),
  };
}

/**
 * Ranked values as horizontal bars, largest on top. data: {keys, values, name, color, label: key→text}.
 * @param {any} data
 * @returns {Option}
 */
export function rankingOption(data) {
  const { keys, values, name, label = (k) => k, format = fmtNum } = data;
  const c = resolveColor(data.color) ?? color(0);
  const order = keys.map((_, i) => i).reverse();
  return {
    animationDuration: 450,
    grid: { left: 6, right: 52, top: 4, bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => format(v) },
    xAxis: { type: 'value', show: false },
    yAxis: {
      type: 'category',
      data: order.map((i) => keys[i]),
      axisLine: { show: false },
      axisLabel: { formatter: (k) => truncate(label(k), 22), width: 150, overflow: 'truncate' },
    },
    series: [{
      id: 'values',
      name,
      type: 'bar',
      data: order.map((i) => values[i]),
      color: c,
      barMaxWidth: 18,
      itemStyle: { borderRadius: [0, 4, 4, 0] },
      label: { show: true, position: 'right', color: cssVar('--muted'), formatter: ({ value }) => fmtCompact(Number(value)) },
      cursor: data.clickable ? 'pointer' : 'default',
    }],
  };
}

/** Shares as a donut. data: {keys, values, name, label}. * @param {any} data
 * @returns {Option}
 */
export function pieOption(data) {
  const { keys, values, name, label = (k) => k, format = fmtNum } = data;
  return {
    animationDuration: 450,
    tooltip: { trigger: 'item', valueFormatter: (v) => format(v) },
    legend: { type: 'scroll', bottom: 0, icon: 'circle', itemWidth: 8, itemHeight: 8, formatter: (k) => truncate(label(k), 24) },
    series: [{
      name,
      type: 'pie',
      radius: ['42%', '70%'],
      center: ['50%', '45%'],
      avoidLabelOverlap: true,
      label: { show: keys.length <= 10, formatter: ({ name: k, percent }) => `${truncate(label(k), 18)} ${(percent ?? 0).toFixed(0)}%`, color: cssVar('--muted') },
      data: keys.map((k, i) => ({ name: k, value: values[i] })),
    }],
  };
}

function truncate(text, n) {
  text = String(text ?? '');
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

