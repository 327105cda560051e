import { FAULT_KINDS } from '../chaos/kinds/registry';

/**
 * A small SVG plotting module for the self-contained report: no scripts, no external assets, text in
 * the page's font. Every function returns one <svg> element as a string.
 */

export interface XY {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: XY[];
  color?: string;
  dashed?: boolean;
  width?: number;
}

export interface Band {
  x0: number;
  x1: number;
  label?: string;
  color?: string;
}

export interface HLine {
  y: number;
  label: string;
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  width?: number;
  height?: number;
  xTime?: boolean;
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  bands?: Band[];
  hlines?: HLine[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** square aspect, 0–1 axes, diagonal (ROC) */
  diagonal?: boolean;
  legend?: boolean;
}

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
/** Each fault kind's band colour (its `report.color` in activities/chaos/kinds). */
export const FAULT_COLORS: Record<string, string> = Object.fromEntries(
  FAULT_KINDS.map((k) => [k.type, k.report.color]),
);

export function faultColor(type: string | undefined): string {
  return (type && FAULT_COLORS[type]) || '#ef4444';
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number): string => (Math.round(v * 10) / 10).toString();

/** "Nice" tick values (1, 2, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const TIME_STEPS = [
  1e3, 5e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3,
];

function timeTicks(lo: number, hi: number, count = 6): number[] {
  const raw = (hi - lo) / count;
  const step = TIME_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86400e3) * 86400e3;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

export function fmtTime(ms: number, withSeconds: boolean): string {
  const iso = new Date(ms).toISOString();
  return withSeconds ? iso.slice(11, 19) : iso.slice(11, 16);
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return String(Number(v.toPrecision(3)));
  if (a >= 1e-3) return String(Number(v.toPrecision(2)));
  return v.toExponential(0);
}

/** Line chart with optional shaded x-bands (fault episodes) and horizontal lines (thresholds). */
export function lineChart(series: Series[], o: LineChartOptions = {}): string {
  const W = o.width ?? 760;
  const H = o.height ?? (o.diagonal ? 300 : 240);
  const m = { l: 58, r: 16, t: o.title ? 28 : 12, b: o.xLabel ? 44 : 30 };
  const legendH = o.legend === false || series.length < 2 ? 0 : 20;
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b - legendH;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const tx = (v: number): number => (o.logY ? Math.log10(Math.max(v, 1e-12)) : v);
  let [x0, x1] = o.xDomain ?? [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  const ys = [...all.map((p) => tx(p.y)), ...(o.hlines ?? []).map((h) => tx(h.y))];
  let [y0, y1] = o.yDomain ? [tx(o.yDomain[0]), tx(o.yDomain[1])] : [Math.min(...ys), Math.max(...ys)];
  if (!all.length) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y1 = y0 + 1;
    y0 -= o.logY ? 1 : 0;
  }
  if (!o.yDomain && !o.logY && y0 > 0 && y0 < (y1 - y0) * 0.5) y0 = 0;
  if (!o.yDomain) {
    const pad = (y1 - y0) * 0.05;
    y1 += pad;
    if (y0 !== 0) y0 -= pad;
  }
  const sx = (v: number): number => m.l + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => m.t + ph - ((tx(v) - y0) / (y1 - y0)) * ph;
  const syRaw = (v: number): number => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" class="chart">`);
  if (o.title) parts.push(`<text x="${m.l}" y="17" class="ct">${esc(o.title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="plot"/>`);
  for (const b of o.bands ?? []) {
    const a = Math.max(x0, b.x0);
    const z = Math.min(x1, b.x1);
    if (z < a) continue;
    const w = Math.max(1.5, sx(z) - sx(a));
    parts.push(
      `<rect x="${f(sx(a))}" y="${m.t}" width="${f(w)}" height="${ph}" fill="${b.color ?? '#ef4444'}" fill-opacity="0.16" class="band"><title>${esc(b.label ?? 'fault')}</title></rect>`,
    );
  }
  // grid + axes
  const yt = o.logY ? niceTicks(y0, y1, 4).filter((v) => Number.isInteger(v)) : niceTicks(y0, y1, 5);
  for (const v of yt) {
    const y = syRaw(v);
    if (y < m.t - 0.5 || y > m.t + ph + 0.5) continue;
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(y)}" y2="${f(y)}" class="grid"/>`);
    parts.push(
      `<text x="${m.l - 6}" y="${f(y + 4)}" class="tk" text-anchor="end">${o.logY ? fmtNum(Math.pow(10, v)) : fmtNum(v)}</text>`,
    );
  }
  const xt = o.xTime ? timeTicks(x0, x1) : niceTicks(x0, x1, 6);
  const secs = o.xTime && x1 - x0 < 600e3;
  for (const v of xt) {
    const x = sx(v);
    parts.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${m.t + ph}" y2="${m.t + ph + 4}" class="axis"/>`);
    parts.push(
      `<text x="${f(x)}" y="${m.t + ph + 16}" class="tk" text-anchor="middle">${o.xTime ? fmtTime(v, !!secs) : fmtNum(v)}</text>`,
    );
  }
  if (o.xLabel)
    parts.push(
      `<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" class="al" text-anchor="middle">${esc(o.xLabel)}</text>`,
    );
  if (o.yLabel) {
    parts.push(
      `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" class="al" text-anchor="middle">${esc(o.yLabel)}</text>`,
    );
  }
  if (o.diagonal) parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" class="diag"/>`);
  parts.push(`<clipPath id="c${clipId}"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath>`);
  parts.push(`<g clip-path="url(#c${clipId++})">`);
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (!pts.length) return;
    const d = pts.map((p, k) => `${k ? 'L' : 'M'}${f(sx(p.x))} ${f(sy(p.y))}`).join('');
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    parts.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.width ?? 1.6}"${s.dashed ? ' stroke-dasharray="5 4"' : ''} stroke-linejoin="round"><title>${esc(s.name)}</title></path>`,
    );
  });
  // Threshold labels: lines close together get their labels moved left so they never overprint.
  let labelRight = m.l + pw - 4;
  let lastY = Number.NaN;
  for (const h of [...(o.hlines ?? [])].sort((a, b) => tx(b.y) - tx(a.y))) {
    const y = sy(h.y);
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${f(y)}" y2="${f(y)}" stroke="${h.color ?? '#111827'}" stroke-width="1.4" stroke-dasharray="6 4"/>`,
    );
    labelRight = Math.abs(y - lastY) < 14 ? labelRight - (h.label.length * 6.4 + 14) : m.l + pw - 4;
    lastY = y;
    parts.push(
      `<text x="${f(labelRight)}" y="${f(y - 5)}" class="hl" text-anchor="end" fill="${h.color ?? '#111827'}" paint-order="stroke" stroke="#fff" stroke-width="3">${esc(h.label)}</text>`,
    );
  }
  parts.push('</g>');
  if (legendH) {
    let lx = m.l;
    const ly = H - 8;
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      parts.push(
        `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
      parts.push(`<text x="${lx + 23}" y="${ly}" class="lg">${esc(s.name)}</text>`);
      lx += 34 + s.name.length * 6.6;
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

let clipId = 0;

/** 2×2 confusion matrix as a shaded grid. */
export function confusionMatrixSvg(c: { tp: number; fp: number; fn: number; tn: number }): string {
  const cells = [
    { r: 0, c: 0, v: c.tn, k: 'TN' },
    { r: 0, c: 1, v: c.fp, k: 'FP' },
    { r: 1, c: 0, v: c.fn, k: 'FN' },
    { r: 1, c: 1, v: c.tp, k: 'TP' },
  ];
  const total = Math.max(1, c.tp + c.fp + c.fn + c.tn);
  const rowTotals = [c.tn + c.fp, c.fn + c.tp];
  const S = 92;
  const ox = 110;
  const oy = 46;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 250" width="100%" role="img" class="chart cm">`,
  ];
  parts.push(`<text x="${ox + S}" y="18" class="al" text-anchor="middle">predicted</text>`);
  parts.push(
    `<text x="${ox + S / 2}" y="38" class="tk" text-anchor="middle">normal</text><text x="${ox + 1.5 * S}" y="38" class="tk" text-anchor="middle">anomaly</text>`,
  );
  parts.push(`<text transform="translate(22 ${oy + S}) rotate(-90)" class="al" text-anchor="middle">actual</text>`);
  parts.push(
    `<text x="${ox - 8}" y="${oy + S / 2 + 4}" class="tk" text-anchor="end">normal</text><text x="${ox - 8}" y="${oy + 1.5 * S + 4}" class="tk" text-anchor="end">anomaly</text>`,
  );
  for (const cell of cells) {
    const share = cell.v / Math.max(1, rowTotals[cell.r]!);
    const good = cell.k === 'TN' || cell.k === 'TP';
    const color = good ? '37,99,235' : '220,38,38';
    const x = ox + cell.c * S;
    const y = oy + cell.r * S;
    parts.push(
      `<rect x="${x}" y="${y}" width="${S - 2}" height="${S - 2}" rx="4" fill="rgba(${color},${(0.08 + 0.72 * share).toFixed(3)})"/>`,
    );
    parts.push(
      `<text x="${x + S / 2 - 1}" y="${y + S / 2}" class="cmv" text-anchor="middle" fill="${share > 0.55 ? '#fff' : '#111827'}">${cell.v.toLocaleString('en-US')}</text>`,
    );
    parts.push(
      `<text x="${x + S / 2 - 1}" y="${y + S / 2 + 18}" class="tk" text-anchor="middle" fill="${share > 0.55 ? '#fff' : '#374151'}">${cell.k} · ${((100 * cell.v) / total).toFixed(1)}%</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Horizontal bars (e.g. recall per fault type), values in [0, 1]. */
export function barsSvg(rows: { label: string; value: number; color?: string; note?: string }[], width = 520): string {
  const rowH = 26;
  const H = rows.length * rowH + 10;
  const lx = 130;
  const bw = width - lx - 90;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${H}" width="100%" role="img" class="chart">`,
  ];
  rows.forEach((r, i) => {
    const y = 5 + i * rowH;
    const v = Math.max(0, Math.min(1, Number.isFinite(r.value) ? r.value : 0));
    parts.push(`<text x="${lx - 8}" y="${y + 16}" class="tk" text-anchor="end">${esc(r.label)}</text>`);
    parts.push(`<rect x="${lx}" y="${y + 4}" width="${bw}" height="16" rx="3" fill="#f3f4f6"/>`);
    parts.push(`<rect x="${lx}" y="${y + 4}" width="${f(bw * v)}" height="16" rx="3" fill="${r.color ?? '#2563eb'}"/>`);
    parts.push(
      `<text x="${lx + bw + 8}" y="${y + 16}" class="tk">${(100 * v).toFixed(1)}%${r.note ? ` ${esc(r.note)}` : ''}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Grouped vertical bars: one group per category (e.g. phase), one bar per series (e.g. percentile). */
export function groupedBarsSvg(
  groups: { label: string; values: { name: string; value: number }[] }[],
  o: { yLabel?: string; width?: number; height?: number } = {},
): string {
  const W = o.width ?? 520;
  const H = o.height ?? 220;
  const m = { l: 58, r: 12, t: 12, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const names = [...new Set(groups.flatMap((g) => g.values.map((v) => v.name)))];
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.map((v) => v.value)).filter(Number.isFinite));
  const ticks = niceTicks(0, max * 1.05, 4);
  const top = Math.max(max * 1.05, ticks[ticks.length - 1] ?? max);
  const sy = (v: number): number => m.t + ph - (v / top) * ph;
  const gw = pw / Math.max(1, groups.length);
  const bw = Math.min(28, (gw * 0.75) / Math.max(1, names.length));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" class="chart">`,
  ];
  for (const v of ticks) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(sy(v))}" y2="${f(sy(v))}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(sy(v) + 4)}" class="tk" text-anchor="end">${fmtNum(v)}</text>`);
  }
  if (o.yLabel)
    parts.push(
      `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" class="al" text-anchor="middle">${esc(o.yLabel)}</text>`,
    );
  groups.forEach((g, gi) => {
    const x0 = m.l + gi * gw + (gw - bw * names.length) / 2;
    names.forEach((n, k) => {
      const v = g.values.find((x) => x.name === n)?.value ?? 0;
      const y = sy(Number.isFinite(v) ? v : 0);
      parts.push(
        `<rect x="${f(x0 + k * bw)}" y="${f(y)}" width="${f(bw - 2)}" height="${f(m.t + ph - y)}" rx="2" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${g.label} ${n}: ${fmtNum(v)}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${f(m.l + gi * gw + gw / 2)}" y="${m.t + ph + 16}" class="al" text-anchor="middle">${esc(g.label)}</text>`,
    );
  });
  parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" class="axis"/>`);
  let lx = m.l;
  names.forEach((n, k) => {
    parts.push(
      `<rect x="${lx}" y="${H - 14}" width="10" height="10" rx="2" fill="${PALETTE[k % PALETTE.length]}"/><text x="${lx + 14}" y="${H - 5}" class="lg">${esc(n)}</text>`,
    );
    lx += 24 + n.length * 7;
  });
  parts.push('</svg>');
  return parts.join('');
}
