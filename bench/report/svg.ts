/**
 * Horizontal stacked bar charts as SVG text (no chart library): one bar per
 * plan, one segment per op class, a legend and an axis with round ticks.
 */
export interface Segment {
  readonly key: string;
  readonly value: number;
}

export interface Bar {
  readonly label: string;
  readonly segments: readonly Segment[];
}

export interface ChartSpec {
  readonly title: string;
  readonly unit: string;
  /** Segment keys in stacking order, with their colours. */
  readonly keys: readonly { readonly key: string; readonly color: string }[];
  readonly bars: readonly Bar[];
  /** Formats an axis tick value. */
  readonly format: (v: number) => string;
}

const WIDTH = 640;
const LABEL_W = 130;
const BAR_H = 18;
const GAP = 8;
const TOP = 52;
const PLOT_W = WIDTH - LABEL_W - 30;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tick step of 1, 2 or 5 times a power of ten giving about five ticks up to `max`. */
export function tickStep(max: number): number {
  if (max <= 0) return 1;
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
}

const total = (b: Bar): number => b.segments.reduce((s, x) => s + x.value, 0);

export function stackedBarChart(spec: ChartSpec): string {
  const max = Math.max(...spec.bars.map(total), 0);
  const step = tickStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const x = (v: number) => LABEL_W + (v / top) * PLOT_W;
  const plotBottom = TOP + spec.bars.length * (BAR_H + GAP);
  const height = plotBottom + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  spec.keys.forEach((k, i) => {
    const lx = LABEL_W + i * 95;
    out.push(`<rect x="${lx}" y="26" width="10" height="10" fill="${k.color}"/>`);
    out.push(`<text x="${lx + 14}" y="35">${escapeXml(k.key)}</text>`);
  });
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${x(v)}" y1="${TOP - 4}" x2="${x(v)}" y2="${plotBottom}" stroke="#ddd"/>`);
    out.push(
      `<text x="${x(v)}" y="${plotBottom + 14}" text-anchor="middle">${escapeXml(spec.format(v))}</text>`,
    );
  }
  out.push(
    `<text x="${LABEL_W + PLOT_W / 2}" y="${plotBottom + 27}" text-anchor="middle">${escapeXml(spec.unit)}</text>`,
  );
  spec.bars.forEach((bar, i) => {
    const y = TOP + i * (BAR_H + GAP);
    out.push(
      `<text x="${LABEL_W - 6}" y="${y + BAR_H / 2 + 4}" text-anchor="end">${escapeXml(bar.label)}</text>`,
    );
    let acc = 0;
    for (const k of spec.keys) {
      const value = bar.segments.find((s) => s.key === k.key)?.value ?? 0;
      if (value > 0) {
        const w = x(acc + value) - x(acc);
        out.push(
          `<rect x="${x(acc).toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${BAR_H}" fill="${k.color}"><title>${escapeXml(`${bar.label} ${k.key}: ${spec.format(value)}`)}</title></rect>`,
        );
      }
      acc += value;
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
