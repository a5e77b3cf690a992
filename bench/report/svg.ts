/**
 * A hand-written SVG line chart, pure (no dependency): panels side by side
 * sharing the x axis quantity (N), one polyline with point markers per
 * series, a legend, and a linear or logarithmic y axis. Used for CPU per
 * forwarded packet and p99 latency against N, one line per server.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
}

export interface Panel {
  title: string;
  yLabel: string;
  /** Logarithmic y axis (values spread over decades across servers). */
  log: boolean;
  series: Series[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  panels: Panel[];
  /** Optional small print under the title (machine, date). */
  subtitle?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
const PANEL_W = 460;
const PANEL_H = 340;
const M = { left: 64, right: 16, top: 36, bottom: 48 };
const HEAD = 56;
const LEGEND_H = 28;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A number short enough for a tick label. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${+(v / 1000).toPrecision(3)}k`;
  if (a >= 1) return String(+v.toPrecision(3));
  return String(+v.toPrecision(2));
}

/** Ticks for a y axis: decades with 2 and 5 between them when few decades (log), else about 5 round steps from 0. */
export function yTicks(min: number, max: number, log: boolean): { lo: number; hi: number; ticks: number[] } {
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(Math.max(min, 1e-6)));
    let hi = 10 ** Math.ceil(Math.log10(Math.max(max, lo * 10)));
    if (hi <= lo) hi = lo * 10;
    const decades = Math.round(Math.log10(hi / lo));
    const ticks: number[] = [];
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      ticks.push(d);
      if (decades <= 3 && d * 2 < hi) ticks.push(d * 2);
      if (decades <= 3 && d * 5 < hi) ticks.push(d * 5);
    }
    return { lo, hi, ticks: ticks.sort((a, b) => a - b) };
  }
  const top = max > 0 ? max : 1;
  const rough = top / 5;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= rough) ?? 10 * mag;
  const hi = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= hi + step / 2; v += step) ticks.push(+v.toPrecision(12));
  return { lo: 0, hi, ticks };
}

function panelSvg(p: Panel, xs: number[], ox: number, oy: number, colorOf: (name: string) => string, xLabel: string): string[] {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const x0 = ox + M.left;
  const y0 = oy + M.top;
  const ys = p.series.flatMap((s) => s.points.map((pt) => pt.y)).filter((v) => Number.isFinite(v) && (!p.log || v > 0));
  const { lo, hi, ticks } = yTicks(ys.length ? Math.min(...ys) : 1, ys.length ? Math.max(...ys) : 10, p.log);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const sx = (x: number): number => (xMax === xMin ? x0 + w / 2 : x0 + ((x - xMin) / (xMax - xMin)) * w);
  const sy = (y: number): number => {
    const f = p.log ? (Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (y - lo) / (hi - lo || 1);
    return y0 + h - Math.max(0, Math.min(1, f)) * h;
  };
  const r = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push(`<g class="panel">`);
  out.push(`<text x="${r(x0 + w / 2)}" y="${r(oy + 20)}" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  out.push(`<rect x="${r(x0)}" y="${r(y0)}" width="${r(w)}" height="${r(h)}" fill="none" stroke="#999"/>`);
  for (const t of ticks) {
    const y = sy(t);
    out.push(`<line x1="${r(x0)}" y1="${r(y)}" x2="${r(x0 + w)}" y2="${r(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${r(x0 - 6)}" y="${r(y + 4)}" text-anchor="end" font-size="11">${escapeXml(formatTick(t))}</text>`);
  }
  for (const x of xs) {
    const px = sx(x);
    out.push(`<line x1="${r(px)}" y1="${r(y0 + h)}" x2="${r(px)}" y2="${r(y0 + h + 4)}" stroke="#999"/>`);
    out.push(`<text x="${r(px)}" y="${r(y0 + h + 17)}" text-anchor="middle" font-size="11">${escapeXml(formatTick(x))}</text>`);
  }
  out.push(`<text x="${r(x0 + w / 2)}" y="${r(y0 + h + 36)}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  out.push(
    `<text x="${r(ox + 14)}" y="${r(y0 + h / 2)}" text-anchor="middle" font-size="12" transform="rotate(-90 ${r(ox + 14)} ${r(y0 + h / 2)})">${escapeXml(p.yLabel)}${p.log ? ' (log)' : ''}</text>`,
  );
  for (const s of p.series) {
    const pts = s.points.filter((pt) => Number.isFinite(pt.x) && Number.isFinite(pt.y) && (!p.log || pt.y > 0)).sort((a, b) => a.x - b.x);
    if (pts.length === 0) continue;
    const color = colorOf(s.name);
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((pt) => `${r(sx(pt.x))},${r(sy(pt.y))}`).join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`);
    }
    for (const pt of pts) {
      out.push(`<circle cx="${r(sx(pt.x))}" cy="${r(sy(pt.y))}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: ${formatTick(pt.x)} -> ${formatTick(pt.y)}`)}</title></circle>`);
    }
  }
  out.push('</g>');
  return out;
}

/** The whole chart as an SVG document. */
export function lineChartSvg(c: ChartSpec): string {
  const names: string[] = [];
  for (const p of c.panels) for (const s of p.series) if (!names.includes(s.name)) names.push(s.name);
  const colorOf = (name: string): string => PALETTE[names.indexOf(name) % PALETTE.length]!;
  const xs = [...new Set(c.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.x))).filter(Number.isFinite))].sort((a, b) => a - b);
  const width = PANEL_W * Math.max(1, c.panels.length);
  const height = HEAD + PANEL_H + LEGEND_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(c.title)}</text>`,
  ];
  if (c.subtitle) out.push(`<text x="${width / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">${escapeXml(c.subtitle)}</text>`);
  c.panels.forEach((p, i) => out.push(...panelSvg(p, xs, i * PANEL_W, HEAD, colorOf, c.xLabel)));
  let lx = 20;
  const ly = HEAD + PANEL_H + 14;
  for (const n of names) {
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="10" fill="${colorOf(n)}"/>`);
    out.push(`<text x="${lx + 20}" y="${ly}" font-size="12">${escapeXml(n)}</text>`);
    lx += 40 + n.length * 7;
  }
  out.push('</svg>', '');
  return out.join('\n');
}
