/**
 * The cost model's plaintext time follows the engine the parties run: ops with
 * an ONNX lowering at onnxruntime's rates under the 'ort' engine, the
 * interpreter's otherwise (its fallback ops, and every op under 'interpreter').
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';
import { costPlan, plaintextSeconds } from './cost.ts';
import { NETWORKS } from './network.ts';

function clientGraph() {
  const b = new GraphBuilder('plain');
  const x = b.addInput('x', { dtype: 'f32', shape: [64, 128] }, 'client');
  const w = b.addWeight(
    'w',
    'public',
    { tensor: makeTensor('f32', [128, 256], new Float32Array(128 * 256)) },
    { placement: 'both' },
  );
  const client = { placement: 'client' as const };
  const h = b.add1('matmul', [x, w], {}, client);
  const p = b.add1('softmax', [h], { approx: '2quad' }, client);
  const y = b.add1('gelu', [p], {}, client);
  b.setOutputs([{ name: 'y', value: y }]);
  return b.build();
}

describe('plaintext time per engine', () => {
  const g = clientGraph();
  const cal = DEFAULT_CALIBRATION;
  const at = (op: string) => g.nodes.find((n) => n.op === op)!;

  it('a lowered op costs at onnxruntime rates under ort, at the interpreter rates under interpreter', () => {
    const macs = 64 * 128 * 256;
    expect(plaintextSeconds(g, at('matmul'), cal, 'ort')).toBeCloseTo(macs / cal.ortMacsPerSecond, 12);
    expect(plaintextSeconds(g, at('matmul'), cal, 'interpreter')).toBeCloseTo(
      macs / cal.floatMacsPerSecond,
      12,
    );
    expect(plaintextSeconds(g, at('gelu'), cal, 'ort')).toBeCloseTo(
      (64 * 256) / cal.ortElementsPerSecond,
      12,
    );
  });

  it('an op without a lowering (2quad softmax) costs at the interpreter rate under either engine', () => {
    const want = (64 * 256) / cal.floatElementsPerSecond;
    expect(plaintextSeconds(g, at('softmax'), cal, 'ort')).toBeCloseTo(want, 12);
    expect(plaintextSeconds(g, at('softmax'), cal, 'interpreter')).toBeCloseTo(want, 12);
  });

  it('the plan total follows the engine; ort is the default', () => {
    const target = { network: NETWORKS.lan, fracBits: 16 };
    const ort = costPlan(g, target).total.plaintext_seconds;
    const interp = costPlan(g, { ...target, plaintextEngine: 'interpreter' }).total.plaintext_seconds;
    expect(costPlan(g, { ...target, plaintextEngine: 'ort' }).total.plaintext_seconds).toBe(ort);
    expect(ort).toBeLessThan(interp);
  });
});
