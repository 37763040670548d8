import { describe, expect, it } from 'vitest';
import { stackedBarChart, tickStep } from './svg.ts';

describe('stacked bar charts', () => {
  it('picks 1-2-5 tick steps giving about five ticks', () => {
    expect(tickStep(100)).toBe(20);
    expect(tickStep(7)).toBe(2);
    expect(tickStep(0.3)).toBe(0.1);
    expect(tickStep(0)).toBe(1);
  });

  it('draws segments with widths proportional to their values, in key order', () => {
    const svg = stackedBarChart({
      title: 'a & b',
      unit: 'bytes',
      keys: [
        { key: 'linear', color: '#111111' },
        { key: 'softmax', color: '#222222' },
      ],
      bars: [
        {
          label: 'x',
          segments: [
            { key: 'softmax', value: 30 },
            { key: 'linear', value: 10 },
          ],
        },
      ],
      format: String,
    });
    const widths = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="18" fill="(#\d+)"/g),
    ];
    expect(widths.map((m) => m[3])).toEqual(['#111111', '#222222']);
    const [lin, soft] = widths.map((m) => Number(m[2]));
    expect(soft! / lin!).toBeCloseTo(3, 5);
    // The second segment starts where the first ends.
    expect(Number(widths[1]![1])).toBeCloseTo(Number(widths[0]![1]) + lin!, 1);
    expect(svg).toContain('a &amp; b');
  });
});
