// The HTML report of a training run (or a cross-validation): one self-contained
// file with inline SVG charts drawn here (no scripts, no external CSS, no
// network), to open in a browser.
import type { Convention } from './conventions.js';
import { describeConvention } from './conventions.js';

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export interface ResultTable {
  /** Row label, e.g. "test (standard)". */
  name: string;
  metrics: Record<string, number>;
}

export interface ReportInput {
  title: string;
  /** Shown as a key/value summary and as JSON. */
  config: unknown;
  convention: Convention;
  /** Lines under the title (data, device, time, best epoch, ...). */
  summary?: string[];
  /** Loss per epoch (one series per run / fold). */
  lossCurves?: Series[];
  /** Early-stopping metric per epoch: train and vali series (per fold for cv). */
  metricCurves?: Series[];
  metricName?: string;
  /** Final metric tables. */
  tables?: ResultTable[];
  /** Per-fold bars: one group per metric, one bar per fold. */
  folds?: ResultTable[];
  /** Per-query values of one test metric (histogram). */
  perQuery?: { metric: string; values: ArrayLike<number> };
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function tick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.001 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const W = 560;
const H = 300;
const M = { l: 58, r: 16, t: 30, b: 44 };

function frame(title: string, xLabel: string, yLabel: string, body: string, legend: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<rect width="${W}" height="${H}" fill="#fff"/>` +
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(title)}</text>` +
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${escapeHtml(xLabel)}</text>` +
    `<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeHtml(yLabel)}</text>` +
    body +
    legend +
    `</svg>`
  );
}

function legendOf(names: string[]): string {
  return names
    .map((n, i) => {
      const y = M.t + 6 + i * 16;
      return `<rect x="${W - M.r - 150}" y="${y - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${W - M.r - 136}" y="${y}" font-size="11">${escapeHtml(n)}</text>`;
    })
    .join('');
}

function axes(xTicks: Array<[number, string]>, yTicks: number[], sx: (v: number) => number, sy: (v: number) => number): string {
  const x0 = M.l;
  const y0 = H - M.b;
  let s = `<line x1="${x0}" y1="${y0}" x2="${W - M.r}" y2="${y0}" stroke="#333"/><line x1="${x0}" y1="${M.t}" x2="${x0}" y2="${y0}" stroke="#333"/>`;
  for (const v of yTicks) {
    const y = sy(v).toFixed(1);
    s += `<line x1="${x0}" y1="${y}" x2="${W - M.r}" y2="${y}" stroke="#e5e5e5"/><text x="${x0 - 5}" y="${y}" dy="4" text-anchor="end" font-size="10">${tick(v)}</text>`;
  }
  for (const [v, label] of xTicks) {
    const x = sx(v).toFixed(1);
    s += `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 4}" stroke="#333"/><text x="${x}" y="${y0 + 16}" text-anchor="middle" font-size="10">${escapeHtml(label)}</text>`;
  }
  return s;
}

/** A line chart of one or more series (x, y); non-finite points are skipped. */
export function lineChart(series: Series[], title: string, xLabel: string, yLabel: string): string {
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return `<p class="empty">${escapeHtml(title)}: no data.</p>`;
  let [xlo, xhi] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ylo, yhi] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (xhi === xlo) [xlo, xhi] = [xlo - 1, xhi + 1];
  const pad = (yhi - ylo) * 0.05 || Math.abs(yhi) * 0.05 || 1;
  [ylo, yhi] = [ylo - pad, yhi + pad];
  const sx = (v: number) => M.l + ((v - xlo) / (xhi - xlo)) * (W - M.l - M.r);
  const sy = (v: number) => H - M.b - ((v - ylo) / (yhi - ylo)) * (H - M.t - M.b);
  const xt = niceTicks(xlo, xhi, 8).filter((v) => Number.isInteger(v) || xhi - xlo < 8);
  let body = axes(xt.map((v) => [v, tick(v)]), niceTicks(ylo, yhi), sx, sy);
  series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const c = COLORS[i % COLORS.length];
    if (p.length > 1) body += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`;
    for (const [x, y] of p) body += `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${c}"><title>${escapeHtml(`${s.name}: ${x}, ${y.toFixed(5)}`)}</title></circle>`;
  });
  return frame(title, xLabel, yLabel, body, legendOf(series.map((s) => s.name)));
}

/** Grouped bars: one group per metric, one bar per row (fold). */
export function barChart(rows: ResultTable[], title: string): string {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const vals = rows.flatMap((r) => Object.values(r.metrics)).filter(Number.isFinite);
  if (metrics.length === 0 || vals.length === 0) return `<p class="empty">${escapeHtml(title)}: no data.</p>`;
  const yhi = Math.max(1e-9, ...vals) * 1.05;
  const ylo = Math.min(0, ...vals);
  const sy = (v: number) => H - M.b - ((v - ylo) / (yhi - ylo)) * (H - M.t - M.b);
  const groupW = (W - M.l - M.r - 150) / metrics.length;
  const barW = (groupW * 0.8) / rows.length;
  const gx = (g: number) => M.l + g * groupW + groupW * 0.1;
  let body = axes(
    metrics.map((m, g) => [g, m]),
    niceTicks(ylo, yhi),
    (g) => gx(g) + groupW * 0.4,
    sy,
  );
  metrics.forEach((m, g) => {
    rows.forEach((r, i) => {
      const v = r.metrics[m];
      if (v === undefined || !Number.isFinite(v)) return;
      const y = sy(Math.max(v, 0));
      body += `<rect x="${(gx(g) + i * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${Math.abs(sy(0) - y).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeHtml(`${r.name} ${m}: ${v.toFixed(4)}`)}</title></rect>`;
    });
  });
  return frame(title, 'metric', 'value', body, legendOf(rows.map((r) => r.name)));
}

/** Histogram of values (NaN left out), `bins` equal bins over [min, max]. */
export function histogram(values: ArrayLike<number>, title: string, xLabel: string, bins = 20): string {
  const v = Array.from(values).filter(Number.isFinite);
  if (v.length === 0) return `<p class="empty">${escapeHtml(title)}: no data.</p>`;
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const counts = new Array<number>(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.floor(((x - lo) / (hi - lo)) * bins))]!++;
  const cmax = Math.max(...counts);
  const sx = (x: number) => M.l + ((x - lo) / (hi - lo)) * (W - M.l - M.r);
  const sy = (c: number) => H - M.b - (c / (cmax * 1.05)) * (H - M.t - M.b);
  let body = axes(
    niceTicks(lo, hi, 6).map((t) => [t, tick(t)]),
    niceTicks(0, cmax * 1.05).filter((t) => Number.isInteger(t)),
    sx,
    sy,
  );
  counts.forEach((c, i) => {
    const a = lo + ((hi - lo) * i) / bins;
    const b = lo + ((hi - lo) * (i + 1)) / bins;
    body += `<rect x="${sx(a).toFixed(1)}" y="${sy(c).toFixed(1)}" width="${Math.max(1, sx(b) - sx(a) - 1).toFixed(1)}" height="${(sy(0) - sy(c)).toFixed(1)}" fill="${COLORS[0]}"><title>[${a.toFixed(3)}, ${b.toFixed(3)}): ${c}</title></rect>`;
  });
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  body += `<line x1="${sx(mean).toFixed(1)}" y1="${M.t}" x2="${sx(mean).toFixed(1)}" y2="${H - M.b}" stroke="${COLORS[3]}" stroke-dasharray="4 3"/>`;
  return frame(title, xLabel, 'queries', body, legendOf([`${v.length} queries`]) + `<text x="${sx(mean).toFixed(1)}" y="${M.t - 2}" text-anchor="middle" font-size="10" fill="${COLORS[3]}">mean ${mean.toFixed(4)}</text>`);
}

function table(rows: ResultTable[]): string {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const head = `<tr><th></th>${metrics.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr>`;
  const body = rows
    .map((r) => `<tr><th>${escapeHtml(r.name)}</th>${metrics.map((m) => `<td>${r.metrics[m] === undefined || !Number.isFinite(r.metrics[m]) ? '–' : r.metrics[m]!.toFixed(4)}</td>`).join('')}</tr>`)
    .join('');
  return `<table>${head}${body}</table>`;
}

function configRows(config: unknown, prefix = ''): Array<[string, string]> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [[prefix, JSON.stringify(config)]];
  const entries = Object.entries(config as Record<string, unknown>);
  if (entries.length === 0) return [[prefix, '{}']];
  return entries.flatMap(([k, v]) => configRows(v, prefix ? `${prefix}.${k}` : k));
}

/** The whole report as one HTML document. */
export function renderReport(r: ReportInput): string {
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(r.title)}</h1>`);
  if (r.summary?.length) parts.push(`<ul>${r.summary.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>`);
  parts.push(`<p class="conv"><b>Evaluation convention</b> — ${escapeHtml(describeConvention(r.convention))}</p>`);
  if (r.tables?.length) parts.push(`<h2>Results</h2>${table(r.tables)}`);
  const charts: string[] = [];
  if (r.folds?.length) charts.push(barChart(r.folds, 'Test metrics per fold'));
  if (r.lossCurves?.length) charts.push(lineChart(r.lossCurves, 'Learning curve (training loss)', 'epoch', 'loss per list'));
  if (r.metricCurves?.length) charts.push(lineChart(r.metricCurves, `${r.metricName ?? 'metric'} per epoch`, 'epoch', r.metricName ?? 'metric'));
  if (r.perQuery) charts.push(histogram(r.perQuery.values, `Per-query test ${r.perQuery.metric}`, r.perQuery.metric));
  if (charts.length) parts.push(`<h2>Charts</h2><div class="charts">${charts.map((c) => `<figure>${c}</figure>`).join('')}</div>`);
  if (r.folds?.length) parts.push(`<h2>Per fold</h2>${table(r.folds)}`);
  parts.push(`<h2>Config</h2><table class="cfg">${configRows(r.config).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`).join('')}</table>`);
  const css =
    'body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin:8px 0}' +
    'th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}th{background:#f6f6f6}.cfg th,.cfg td{text-align:left}' +
    '.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #eee}.conv{background:#f7f7fb;padding:6px 10px}.empty{color:#888}';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title><style>${css}</style></head><body>\n${parts.join('\n')}\n<p style="color:#888;font-size:12px">Generated by ordo on ${new Date().toISOString()}.</p></body></html>\n`;
}
