/**
 * The plaintext float32 interpreter: the reference semantics of every IR op.
 *
 * `KERNELS` maps each computing op to its kernel (TypeScript rejects a missing
 * op); `evalOp` runs one op (the ONNX frontend folds constants with it);
 * `interpret` runs a whole graph. MPC results are checked against it, and
 * `marillc eval` prints it.
 */
import { MarillError } from './errors.ts';
import type { Location } from './errors.ts';
import type { Attrs, Graph, Node, ValueId } from './graph.ts';
import { ARITHMETIC, LOGIC, cast, where } from './kernels/elementwise.ts';
import type { Kernel } from './kernels/kernel.ts';
import { matmul } from './kernels/matmul.ts';
import {
  concat,
  expand,
  gather,
  identity,
  reshape,
  slice,
  split,
  transpose,
  trilu,
} from './kernels/movement.ts';
import { layernorm, rmsnorm } from './kernels/norm.ts';
import { REDUCTIONS, argmax } from './kernels/reduce.ts';
import { logSoftmax, softmax } from './kernels/softmax.ts';
import { UNARY_FLOAT, gelu, neg, not } from './kernels/unary.ts';
import type { OpDef, OpName } from './ops.ts';
import { OPS, normalizeAttrs } from './ops.ts';
import type { Tensor } from './tensor.ts';
import { fromNumbers } from './tensor.ts';
import type { TensorType } from './types.ts';
import { formatType, numel, shapeEquals } from './types.ts';

export type { Kernel } from './kernels/kernel.ts';

export const KERNELS: Record<Exclude<OpName, 'weight' | 'const'>, Kernel> = {
  ...ARITHMETIC,
  ...UNARY_FLOAT,
  neg,
  gelu,
  ...LOGIC,
  not,
  where,
  cast,
  matmul,
  softmax,
  log_softmax: logSoftmax,
  layernorm,
  rmsnorm,
  ...REDUCTIONS,
  argmax,
  gather,
  reshape,
  transpose,
  slice,
  concat,
  split,
  expand,
  trilu,
  share: identity,
  reveal: identity,
};

function typeOf(t: Tensor): TensorType {
  return { dtype: t.dtype, shape: t.shape };
}

function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapeEquals(a.shape, b.shape);
}

/** A `const` op's tensor from its `value` attribute (row-major; bool is x != 0, i64 truncates). */
function constFromAttrs(attrs: Attrs, type: TensorType | undefined): Tensor {
  if (!type) throw new MarillError('const needs its declared type to build its tensor');
  const value = attrs['value'];
  if (!Array.isArray(value)) throw new MarillError(`const needs a 'value' list`);
  const values = value as readonly number[];
  if (values.length !== numel(type.shape))
    throw new MarillError(
      `const has ${values.length} values, its type ${formatType(type)} needs ${numel(type.shape)}`,
    );
  return fromNumbers(type.dtype, type.shape, values);
}

function checkResults(op: OpName, results: readonly Tensor[], outTypes: readonly TensorType[]): void {
  if (outTypes.length === 0) return;
  if (results.length !== outTypes.length)
    throw new MarillError(`${op} gave ${results.length} results, ${outTypes.length} declared`);
  results.forEach((r, i) => {
    if (!sameType(typeOf(r), outTypes[i]!))
      throw new MarillError(
        `${op} result ${i + 1} is ${formatType(typeOf(r))}, declared ${formatType(outTypes[i]!)}`,
      );
  });
}

/**
 * Evaluates one op on plaintext tensors. `attrs` are normalised here (defaults
 * filled, unknown ones rejected). `outTypes` are the declared result types:
 * the results are checked against them, and `const` builds its tensor from
 * them; pass [] when they are unknown (no check). `weight` cannot be evaluated
 * without its node's data and throws.
 */
export function evalOp(
  op: OpName,
  inputs: readonly Tensor[],
  attrs: Attrs,
  outTypes: readonly TensorType[],
): Tensor[] {
  const full = normalizeAttrs(op, attrs);
  const [lo, hi] = (OPS[op] as OpDef).arity;
  if (inputs.length < lo || inputs.length > hi)
    throw new MarillError(
      `op '${op}' takes ${lo === hi ? lo : `${lo} to ${hi}`} operands, got ${inputs.length}`,
    );
  if (op === 'weight')
    throw new MarillError(
      `weight '${String(full['name'])}' has no data here: weights are read from their node`,
    );
  if (op === 'const') return [constFromAttrs(full, outTypes[0])];
  const results = KERNELS[op](inputs, full, outTypes);
  checkResults(op, results, outTypes);
  return results;
}

// ---- whole graphs -----------------------------------------------------------------------------

function nodeLocation(n: Node, file: string | undefined): Location {
  const origin = n.origin !== undefined ? ` (${n.origin})` : '';
  const what = `${n.outputs.map((o) => `%${o}`).join(', ')} = ${n.op}${origin}`;
  return file !== undefined ? { file, what } : { what };
}

function asMarillError(e: unknown, where: Location): MarillError {
  const message = e instanceof Error ? e.message : String(e);
  const own = e instanceof MarillError ? e.location : {};
  return new MarillError(message, { ...own, ...where });
}

/** The tensor a source node holds; a weight parsed from text IR has only its hash. */
function sourceTensor(g: Graph, n: Node): Tensor {
  const declared = g.values.get(n.outputs[0]!)?.type;
  if (n.op === 'weight') {
    if (!n.tensor)
      throw new MarillError(
        `weight '${String(n.attrs['name'])}' has no data: text IR records only its hash; evaluate the ONNX model that holds it`,
      );
    return n.tensor;
  }
  return n.tensor ?? constFromAttrs(n.attrs, declared);
}

function checkGraphInputs(g: Graph, inputs: ReadonlyMap<string, Tensor>, file: string | undefined): void {
  const at = (name: string): Location =>
    file !== undefined ? { file, what: `input '${name}'` } : { what: `input '${name}'` };
  const names = new Set(g.inputs);
  for (const name of inputs.keys())
    if (!names.has(name))
      throw new MarillError(`is not an input of the graph (inputs: ${g.inputs.join(', ')})`, at(name));
  for (const name of g.inputs) {
    const want = g.values.get(name)?.type;
    const got = inputs.get(name);
    if (!want) throw new MarillError('has no declared type', at(name));
    if (!got) throw new MarillError(`is missing (the graph needs ${formatType(want)})`, at(name));
    if (!sameType(typeOf(got), want))
      throw new MarillError(`is ${formatType(typeOf(got))}, the graph needs ${formatType(want)}`, at(name));
  }
}

/** Index of the last node reading each value; graph outputs live to the end. */
function lastUses(g: Graph): Map<ValueId, number> {
  const last = new Map<ValueId, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => last.set(v, i)));
  for (const o of g.outputs) last.set(o.value, Infinity);
  return last;
}

/**
 * Runs a graph on plaintext inputs (keyed by graph input name) and returns its
 * outputs keyed by output name. Intermediate tensors are dropped after their
 * last use, so BERT-size graphs stay within memory. Errors carry the node
 * (`%id = op (origin)`) and `opts.file`.
 */
export function interpret(
  g: Graph,
  inputs: ReadonlyMap<string, Tensor>,
  opts: { file?: string } = {},
): Map<string, Tensor> {
  checkGraphInputs(g, inputs, opts.file);
  const env = new Map<ValueId, Tensor>(inputs);
  const last = lastUses(g);
  g.nodes.forEach((n, index) => {
    try {
      const args = n.inputs.map((v) => {
        const t = env.get(v);
        if (!t) throw new MarillError(`operand %${v} has no value (the graph is not in topological order)`);
        return t;
      });
      const declared = n.outputs.map((o) => {
        const info = g.values.get(o);
        if (!info) throw new MarillError(`result %${o} has no declared type`);
        return info.type;
      });
      const isSource = n.op === 'weight' || n.op === 'const';
      const results = isSource ? [sourceTensor(g, n)] : evalOp(n.op, args, n.attrs, declared);
      if (isSource) checkResults(n.op, results, declared); // evalOp checks the others
      n.outputs.forEach((o, k) => env.set(o, results[k]!));
    } catch (e) {
      throw asMarillError(e, nodeLocation(n, opts.file));
    }
    for (const v of new Set([...n.inputs, ...n.outputs])) if ((last.get(v) ?? -1) <= index) env.delete(v);
  });
  const out = new Map<string, Tensor>();
  for (const o of g.outputs) {
    const t = env.get(o.value);
    if (!t) throw new MarillError(`output '${o.name}' (%${o.value}) was never computed`, { what: g.name });
    out.set(o.name, t);
  }
  return out;
}
