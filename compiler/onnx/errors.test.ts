/**
 * Lowering errors are one line naming the file and the node, input or output
 * at fault (the text the CLI prints after `marillc: error: `).
 */
import { describe, expect, test } from 'vitest';
import { errorLine, lowerBytes } from '../../test/fixtures/onnx-builders/differential.ts';
import type { ModelSpec, NodeSpec, ValueSpec } from './write.ts';
import { encodeOnnx, makeModel } from './write.ts';

function model(
  inputs: ValueSpec[],
  nodes: NodeSpec[],
  outputs: ValueSpec[] = [{ name: 'y', type: 'float' }],
  extra: Partial<ModelSpec> = {},
) {
  return encodeOnnx(makeModel({ opset: 17, inputs, outputs, nodes, ...extra }));
}
const x = (shape: (number | string)[]): ValueSpec => ({ name: 'x', type: 'float', shape });

describe('unsupported ops', () => {
  test('names the op type, the node and the opset', () => {
    const bytes = model(
      [x([2])],
      [
        { op: 'Relu', name: 'Relu_11', inputs: ['x'], outputs: ['r'] },
        { op: 'Foo', name: 'Foo_12', inputs: ['r'], outputs: ['y'] },
      ],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'Foo_12': unsupported op 'Foo' (opset 17)",
    );
  });

  test('ops of other domains name the domain', () => {
    const bytes = model(
      [x([2])],
      [{ op: 'FusedMatMul', name: 'fm', domain: 'com.microsoft', inputs: ['x', 'x'], outputs: ['y'] }],
      undefined,
      {
        extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
      },
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'fm': unsupported op 'FusedMatMul' (domain com.microsoft, opset 1)",
    );
  });

  test('an unnamed node is named by its type and position', () => {
    const bytes = encodeOnnx(
      makeModel({
        opset: 13,
        inputs: [x([2])],
        outputs: [{ name: 'y', type: 'float' }],
        nodes: [{ op: 'Bar', inputs: ['x'], outputs: ['y'] }],
      }),
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'Bar_0': unsupported op 'Bar' (opset 13)",
    );
  });
});

describe('input shapes', () => {
  const dynamic = model(
    [{ name: 'input_ids', type: 'int64', shape: [1, 'sequence'] }],
    [{ op: 'Cast', name: 'c', inputs: ['input_ids'], outputs: ['y'], attrs: { to: 1 } }],
  );

  test('an unfixed dynamic dimension names the input and the dimension', () => {
    expect(errorLine(() => lowerBytes(dynamic))).toBe(
      "model.onnx: input 'input_ids': dimension 1 ('sequence') is dynamic; fix it with --shape sequence=<size> (by dimension) or --shape input_ids=1x<sequence> (by input)",
    );
  });

  test('--shape fixes it', () => {
    const g = lowerBytes(dynamic, { input_ids: [1, 16] });
    expect(g.values.get('input_ids')!.type.shape).toEqual([1, 16]);
  });

  test('a --shape of the wrong rank, against a fixed dimension, or for no input', () => {
    expect(errorLine(() => lowerBytes(dynamic, { input_ids: [16] }))).toBe(
      "model.onnx: input 'input_ids': --shape input_ids=16 has rank 1; the model declares rank 2 [1,<sequence>]",
    );
    expect(errorLine(() => lowerBytes(dynamic, { input_ids: [2, 16] }))).toBe(
      "model.onnx: input 'input_ids': --shape input_ids=2x16: dimension 0 is fixed to 1 by the model",
    );
    expect(errorLine(() => lowerBytes(dynamic, { input_ids: [1, 16], mask: [1, 16] }))).toBe(
      "model.onnx: --shape names 'mask', which is not a graph input (inputs: input_ids) nor a dynamic dimension (sequence)",
    );
  });

  test('an input without any declared shape', () => {
    const bytes = model(
      [{ name: 'x', type: 'float' }],
      [{ op: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: input 'x': the model does not declare its shape; give it with --shape x=<dims>",
    );
  });
});

describe('incompatible static shapes name the node', () => {
  test('Add of non-broadcastable operands', () => {
    const bytes = model(
      [x([2, 3]), { name: 'z', type: 'float', shape: [4] }],
      [{ op: 'Add', name: 'add_7', inputs: ['x', 'z'], outputs: ['y'] }],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'add_7' (Add): shapes [2,3] and [4] do not broadcast",
    );
  });

  test('MatMul with different inner dimensions', () => {
    const bytes = model(
      [x([2, 3]), { name: 'w', type: 'float', shape: [4, 5] }],
      [{ op: 'MatMul', name: 'mm', inputs: ['x', 'w'], outputs: ['y'] }],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'mm' (MatMul): matmul inner dimensions differ: [2,3] x [4,5]",
    );
  });

  test('Reshape to a different element count', () => {
    const bytes = model(
      [x([2, 3])],
      [{ op: 'Reshape', name: 'rs', inputs: ['x', 's'], outputs: ['y'] }],
      undefined,
      {
        initializers: [{ name: 's', type: 'int64', dims: [2], values: [4, 2] }],
      },
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'rs' (Reshape): cannot reshape [2,3] to [4,2]",
    );
  });

  test('an output whose declared shape differs from the computed one', () => {
    const bytes = model(
      [x([2, 3])],
      [{ op: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
      [{ name: 'y', type: 'float', shape: [3, 2] }],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: output 'y': declared shape [3,2], but the graph computes [2,3]",
    );
  });
});

describe('values that do not exist', () => {
  test('an undefined operand', () => {
    const bytes = model([x([2])], [{ op: 'Add', name: 'a', inputs: ['x', 'ghost'], outputs: ['y'] }]);
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'a' (Add): value 'ghost' is used but never defined",
    );
  });

  test("LayerNormalization's training outputs are not available", () => {
    const bytes = model(
      [x([2, 3]), { name: 'g', type: 'float', shape: [3] }],
      [
        { op: 'LayerNormalization', name: 'ln', inputs: ['x', 'g'], outputs: ['n', 'mean'] },
        { op: 'Add', name: 'use', inputs: ['n', 'mean'], outputs: ['y'] },
      ],
    );
    expect(errorLine(() => lowerBytes(bytes))).toBe(
      "model.onnx: node 'use' (Add): value 'mean' is not available: output 1 of node 'ln' (LayerNormalization) is not supported",
    );
  });
});
