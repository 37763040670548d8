import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parse.ts';
import { toDot } from './dot.ts';

const PLACED = `graph @g(%x: client f32[2]) -> (y: f32[2]) {
  %0 = weight "w" : server f32[2] #sha256:${'0'.repeat(64)}
  %1 = share %x {from = "client"} : secret f32[2] @mpc
  %2 = mul %1, %0 : secret f32[2] @mpc(beaver.weight)
  %3 = reveal %2 {to = "client"} : client f32[2] @mpc
  return %3
}
`;

describe('toDot', () => {
  const dot = toDot(parseGraph(PLACED));

  it('draws one box per op, none for weights, with the protocol and placement colour', () => {
    expect(dot.match(/\[label="(share|mul|reveal)/g)).toHaveLength(3);
    expect(dot).not.toContain('label="weight');
    expect(dot).toContain('mul %2\\nbeaver.weight');
    expect(dot).toMatch(/n2 \[label="mul[^\]]*fillcolor="#f6c6d0"\]/);
  });

  it('connects the input to the first op and the last op to the output', () => {
    expect(dot).toContain('"in:x" -> n1');
    expect(dot).toContain('"n3" -> "out:y"');
    expect(dot.trim().endsWith('}')).toBe(true);
  });
});
