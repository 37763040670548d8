/**
 * Test support: evaluate an IR op with evalOp and the matching ONNX op with
 * onnxruntime, and assert they agree.
 */
import { expect } from 'vitest';
import type { AttrInput } from '../../../compiler/onnx/write.ts';
import type { Attrs } from '../../graph.ts';
import { evalOp } from '../../interpret.ts';
import type { OpName } from '../../ops.ts';
import { inferTypes } from '../../ops.ts';
import type { Tensor } from '../../tensor.ts';
import { mismatch, runOrtOp } from './ort-oracle.ts';

/** evalOp with result types from the op table's type rule (an independent check of the kernel's shapes). */
export function ours(op: OpName, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor[] {
  return evalOp(op, inputs, attrs, inferTypes(op, inputs, attrs));
}

export interface OnnxSide {
  readonly op: string;
  /** Operands for onnxruntime when they differ from the IR op's (e.g. shape tensors as inputs). */
  readonly inputs?: readonly Tensor[];
  readonly attrs?: Readonly<Record<string, AttrInput>>;
  readonly opset?: number;
}

export async function expectSameAsOrt(
  ir: { op: OpName; inputs: readonly Tensor[]; attrs?: Attrs },
  onnx: OnnxSide,
  tol: { rel?: number; abs?: number } = {},
): Promise<void> {
  const got = ours(ir.op, ir.inputs, ir.attrs);
  const want = await runOrtOp(
    onnx.op,
    onnx.inputs ?? ir.inputs,
    onnx.attrs,
    got.map((t) => t.dtype),
    onnx.opset,
  );
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(mismatch(g, want[i]!, tol.rel, tol.abs), `${onnx.op} result ${i}`).toBeNull());
}
