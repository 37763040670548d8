import { describe, expect, it } from 'vitest';
import type { Node } from '../../ir/graph.ts';
import { layerOf } from './progress.ts';

const node = (origin?: string): Node => ({
  op: 'add',
  inputs: [],
  outputs: ['0'],
  attrs: {},
  ...(origin ? { origin } : {}),
});

describe('layerOf', () => {
  it('reads the layer index from exporter node names', () => {
    expect(layerOf(node('/transformer/h.3/attn/MatMul'))).toBe(3);
    expect(layerOf(node('/bert/encoder/layer.11/output/Add'))).toBe(11);
    expect(layerOf(node('/model/layers.0/self_attn/Softmax'))).toBe(0);
  });

  it('gives nothing for names without a layer', () => {
    expect(layerOf(node('/transformer/wte/Gather'))).toBeUndefined();
    expect(layerOf(node('/head/MatMul'))).toBeUndefined();
    expect(layerOf(node())).toBeUndefined();
  });
});
