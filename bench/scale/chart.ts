/**
 * The scale chart as a self-contained SVG (no dependency): left, dispatch latency p50
 * and p99 against concurrent builds (log scale: it spans 1 ms to seconds); right, the frontends' CPU against concurrent
 * builds; one colour per backend.
 */

export interface ChartSeries {
  backend: string;
  points: { n: number; p50Ms: number; p99Ms: number; frontendCpuPct: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const W = 440;
const H = 300;
const M = { left: 56, right: 16, top: 36, bottom: 44 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v) ?? 10 * p;
}

interface Line {
  label: string;
  color: string;
  dashed: boolean;
  points: { x: number; y: number }[];
}

/** A panel; with `log`, the y axis is logarithmic from 0.1 to the next power of ten. */
function panel(x0: number, title: string, yLabel: string, xs: number[], lines: Line[], target?: { y: number; label: string }, log = false): string {
  const xMax = niceMax(Math.max(...xs, 1));
  const top = Math.max(...lines.flatMap((l) => l.points.map((p) => p.y)).filter(Number.isFinite), target?.y ?? 0, 1);
  const yMax = log ? 10 ** Math.ceil(Math.log10(top * 1.01)) : niceMax(top * 1.1);
  const yMin = log ? 0.1 : 0;
  const frac = (y: number): number => (log ? (Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : Math.min(y, yMax) / yMax);
  const px = (x: number): number => x0 + M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number): number => M.top + (1 - Math.min(1, frac(y))) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  const ticks = log ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i) : Array.from({ length: 6 }, (_, i) => (yMax * i) / 5);
  for (const y of ticks) {
    out.push(`<line x1="${px(0)}" x2="${px(xMax)}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${px(0) - 6}" y="${py(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const x = (xMax * i) / 5;
    out.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${+x.toPrecision(3)}</text>`);
  }
  out.push(`<text x="${x0 + M.left + (W - M.left - M.right) / 2}" y="${H - 8}" text-anchor="middle">concurrent builds</text>`);
  out.push(`<text transform="translate(${x0 + 14},${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  out.push(`<line x1="${px(0)}" x2="${px(0)}" y1="${py(yMin)}" y2="${py(yMax)}" stroke="#000"/><line x1="${px(0)}" x2="${px(xMax)}" y1="${py(yMin)}" y2="${py(yMin)}" stroke="#000"/>`);
  if (target) {
    out.push(`<line x1="${px(0)}" x2="${px(xMax)}" y1="${py(target.y)}" y2="${py(target.y)}" stroke="#888" stroke-dasharray="2,3"/>`);
    out.push(`<text x="${px(xMax) - 4}" y="${py(target.y) - 4}" text-anchor="end" fill="#666">${esc(target.label)}</text>`);
  }
  lines.forEach((l, i) => {
    const pts = l.points.filter((p) => Number.isFinite(p.y));
    if (pts.length === 0) return;
    out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6,4"' : ''} points="${pts.map((p) => `${px(p.x)},${py(p.y)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${l.color}"/>`);
    out.push(`<line x1="${x0 + M.left + 8}" x2="${x0 + M.left + 30}" y1="${M.top + 10 + i * 16}" y2="${M.top + 10 + i * 16}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    out.push(`<text x="${x0 + M.left + 34}" y="${M.top + 14 + i * 16}">${esc(l.label)}</text>`);
  });
  return out.join('\n');
}

export function scaleChart(series: readonly ChartSeries[], subtitle: string): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.n));
  const latency: Line[] = series.flatMap((s, i) => [
    { label: `${s.backend} p99`, color: COLORS[i % COLORS.length]!, dashed: false, points: s.points.map((p) => ({ x: p.n, y: p.p99Ms })) },
    { label: `${s.backend} p50`, color: COLORS[i % COLORS.length]!, dashed: true, points: s.points.map((p) => ({ x: p.n, y: p.p50Ms })) },
  ]);
  const cpu: Line[] = series.map((s, i) => ({ label: `${s.backend} frontends`, color: COLORS[i % COLORS.length]!, dashed: false, points: s.points.map((p) => ({ x: p.n, y: p.frontendCpuPct })) }));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 24}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel(0, 'dispatch latency (ticket posted → claimed)', 'ms (log scale)', xs, latency, { y: 100, label: 'target p99 ≤ 100 ms' }, true),
    panel(W, 'frontend CPU (all frontends)', '% of one CPU', xs, cpu),
    `<text x="${W}" y="${H + 16}" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
