/**
 * The closed op set of the marillc IR, declared as data.
 *
 * Per op: arity, attributes, property groups and the shape/type rule. The
 * plaintext interpreter (ir/interpret.ts) keys its table by `OpName`, so
 * TypeScript rejects an op it forgets. The MPC protocol table
 * (runtime/protocols/registry.ts) covers the ops that may run under MPC
 * (`mayRunUnderMpc`); runtime/protocols/registry.test.ts fails when one has no
 * protocol.
 *
 * Groups are properties, used instead of repeating op lists across passes:
 *   source      no inputs (weight, const)
 *   elementwise same-position inputs and output, numpy broadcasting
 *   linear      additive in its secret operand: free on additive shares when the other operand is public
 *   nonlinear   needs a secure non-linear protocol when its input is secret
 *   movement    only moves/copies elements (free on shares, no arithmetic)
 *   logic       boolean/integer results (comparisons, masks): never on secret data in plaintext form
 *   boundary    moves data across visibilities (share, reveal)
 *   plaintext   has no MPC protocol: runs only on values in the clear; protocol selection refuses it @mpc
 */
import { MarillError } from './errors.ts';
import type { Attrs } from './graph.ts';
import {
  broadcastShapes,
  checkPermutation,
  expandShape,
  matmulShape,
  normalizeAxis,
  reducedShape,
  resolveReshape,
  sliceShape,
} from './shape-rules.ts';
import type { DType, TensorType } from './types.ts';
import { DTYPES, formatShape, numel } from './types.ts';

export type OpGroup =
  'source' | 'elementwise' | 'linear' | 'nonlinear' | 'movement' | 'logic' | 'boundary' | 'plaintext';

export type AttrKind = 'int' | 'float' | 'ints' | 'floats' | 'string';

export interface AttrSpec {
  readonly kind: AttrKind;
  /** Absent: the attribute is required. */
  readonly default?: number | string | readonly number[];
  /** For string attributes: the allowed values. */
  readonly oneOf?: readonly string[];
}

export interface OpDef {
  readonly doc: string;
  /** [min, max] number of inputs (max Infinity for variadic). */
  readonly arity: readonly [number, number];
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly groups: readonly OpGroup[];
  /** Result types from operand types; throws MarillError on incompatible operands. Sources have none. */
  readonly infer?: (inputs: readonly TensorType[], attrs: Attrs) => TensorType[];
}

// ---- attribute access ---------------------------------------------------------------------------

export function intAttr(attrs: Attrs, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number') throw new MarillError(`attribute '${name}' must be an integer`);
  return v;
}

export function floatAttr(attrs: Attrs, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number') throw new MarillError(`attribute '${name}' must be a number`);
  return v;
}

export function intsAttr(attrs: Attrs, name: string): readonly number[] {
  const v = attrs[name];
  if (!Array.isArray(v)) throw new MarillError(`attribute '${name}' must be a list`);
  return v as readonly number[];
}

export function stringAttr(attrs: Attrs, name: string): string {
  const v = attrs[name];
  if (typeof v !== 'string') throw new MarillError(`attribute '${name}' must be a string`);
  return v;
}

// ---- rule builders ----------------------------------------------------------------------------

function sameDtype(inputs: readonly TensorType[]): DType {
  const d = inputs[0]!.dtype;
  for (const t of inputs)
    if (t.dtype !== d)
      throw new MarillError(`operand types differ: ${inputs.map((x) => x.dtype).join(' vs ')}`);
  return d;
}

function requireDtype(t: TensorType, allowed: readonly DType[], what = 'operand'): void {
  if (!allowed.includes(t.dtype))
    throw new MarillError(`${what} must be ${allowed.join(' or ')}, got ${t.dtype}`);
}

const numeric: readonly DType[] = ['f32', 'i64'];

/** Elementwise op over broadcast operands of one numeric dtype, same dtype out. */
function arith(doc: string, groups: readonly OpGroup[]): OpDef {
  return {
    doc,
    arity: [2, 2],
    attrs: {},
    groups: ['elementwise', ...groups],
    infer: (ins) => {
      const dtype = sameDtype(ins);
      requireDtype(ins[0]!, numeric);
      return [{ dtype, shape: broadcastShapes(ins.map((t) => t.shape)) }];
    },
  };
}

/**
 * Elementwise op with a bool result over broadcast operands: a comparison
 * (operands of one dtype) or a logical connective (bool operands).
 */
function boolResult(doc: string, operands: 'same-dtype' | 'bool', groups: readonly OpGroup[] = []): OpDef {
  return {
    doc,
    arity: [2, 2],
    attrs: {},
    groups: ['elementwise', 'logic', ...groups],
    infer: (ins) => {
      if (operands === 'bool') for (const t of ins) requireDtype(t, ['bool']);
      else sameDtype(ins);
      return [{ dtype: 'bool', shape: broadcastShapes(ins.map((t) => t.shape)) }];
    },
  };
}

/** Unary float op (same shape). */
function unaryFloat(doc: string, groups: readonly OpGroup[], attrs: OpDef['attrs'] = {}): OpDef {
  return {
    doc,
    arity: [1, 1],
    attrs,
    groups: ['elementwise', ...groups],
    infer: ([x]) => {
      requireDtype(x!, ['f32']);
      return [{ dtype: 'f32', shape: x!.shape }];
    },
  };
}

function reduction(doc: string, groups: readonly OpGroup[]): OpDef {
  return {
    doc,
    arity: [1, 1],
    attrs: { axes: { kind: 'ints' }, keepdims: { kind: 'int', default: 1 } },
    groups,
    infer: ([x], a) => {
      requireDtype(x!, numeric);
      return [
        { dtype: x!.dtype, shape: reducedShape(x!.shape, intsAttr(a, 'axes'), intAttr(a, 'keepdims') !== 0) },
      ];
    },
  };
}

function softmaxLike(doc: string, attrs: OpDef['attrs'], groups: readonly OpGroup[] = []): OpDef {
  return {
    doc,
    arity: [1, 2],
    attrs,
    groups: ['nonlinear', ...groups],
    infer: ([x, mask], a) => {
      requireDtype(x!, ['f32']);
      normalizeAxis(intAttr(a, 'axis'), x!.shape.length);
      if (mask) {
        requireDtype(mask, ['f32'], 'mask');
        const b = broadcastShapes([x!.shape, mask.shape]);
        if (formatShape(b) !== formatShape(x!.shape))
          throw new MarillError(
            `mask ${formatShape(mask.shape)} does not broadcast to ${formatShape(x!.shape)}`,
          );
      }
      return [{ dtype: 'f32', shape: x!.shape }];
    },
  };
}

// ---- the op table -------------------------------------------------------------------------------

export const OPS = {
  // sources
  weight: {
    doc: 'A named initializer. Printed by name, type and content hash, never by value.',
    arity: [0, 0],
    attrs: { name: { kind: 'string' }, hash: { kind: 'string' } },
    groups: ['source'],
  },
  const: {
    doc: 'A small literal tensor, printed by value (row-major).',
    arity: [0, 0],
    attrs: { value: { kind: 'floats' } },
    groups: ['source'],
  },

  // arithmetic
  add: arith('x + y', ['linear']),
  sub: arith('x - y', ['linear']),
  mul: arith('x * y (linear when one operand is public)', ['linear']),
  div: arith('x / y (linear in x when y is public)', ['linear']),
  pow: arith('x ** y', ['nonlinear', 'plaintext']),
  max: arith('elementwise maximum', ['nonlinear']),
  min: arith('elementwise minimum', ['nonlinear']),
  neg: {
    doc: '-x',
    arity: [1, 1],
    attrs: {},
    groups: ['elementwise', 'linear'],
    infer: ([x]) => {
      requireDtype(x!, numeric);
      return [x!];
    },
  },
  abs: unaryFloat('|x|', ['nonlinear']),
  sqrt: unaryFloat('sqrt(x)', ['nonlinear']),
  rsqrt: unaryFloat('1 / sqrt(x)', ['nonlinear']),
  reciprocal: unaryFloat('1 / x', ['nonlinear']),
  exp: unaryFloat('e^x', ['nonlinear']),
  log: unaryFloat('ln x', ['nonlinear', 'plaintext']),
  erf: unaryFloat('Gauss error function', ['nonlinear']),
  tanh: unaryFloat('tanh x', ['nonlinear']),
  sigmoid: unaryFloat('1 / (1 + e^-x)', ['nonlinear']),
  relu: unaryFloat('max(x, 0)', ['nonlinear']),
  gelu: unaryFloat(
    'GeLU: exact x*Phi(x) (erf), the tanh form, or the MPCFormer replacements relu and quad (0.125x^2 + 0.25x + 0.5)',
    ['nonlinear'],
    { approx: { kind: 'string', default: 'erf', oneOf: ['erf', 'tanh', 'relu', 'quad'] } },
  ),
  silu: unaryFloat('x * sigmoid(x)', ['nonlinear']),
  sin: unaryFloat('sin x', ['nonlinear', 'plaintext']),
  cos: unaryFloat('cos x', ['nonlinear', 'plaintext']),

  // logic
  equal: boolResult('x == y', 'same-dtype'),
  less: boolResult('x < y', 'same-dtype'),
  greater: boolResult('x > y', 'same-dtype'),
  and: boolResult('x && y', 'bool', ['plaintext']),
  or: boolResult('x || y', 'bool', ['plaintext']),
  not: {
    doc: '!x',
    arity: [1, 1],
    attrs: {},
    groups: ['elementwise', 'logic', 'plaintext'],
    infer: ([x]) => {
      requireDtype(x!, ['bool']);
      return [x!];
    },
  },
  where: {
    doc: 'cond ? x : y (broadcast)',
    arity: [3, 3],
    attrs: {},
    groups: ['elementwise', 'nonlinear'],
    infer: ([c, x, y]) => {
      requireDtype(c!, ['bool'], 'condition');
      const dtype = sameDtype([x!, y!]);
      return [{ dtype, shape: broadcastShapes([c!.shape, x!.shape, y!.shape]) }];
    },
  },
  cast: {
    doc: 'convert element type (f32 -> i64 truncates toward zero; x != 0 -> bool)',
    arity: [1, 1],
    attrs: { to: { kind: 'string', oneOf: DTYPES } },
    groups: ['elementwise'],
    infer: ([x], a) => [{ dtype: stringAttr(a, 'to') as DType, shape: x!.shape }],
  },

  // linear algebra
  matmul: {
    doc: 'batched matrix product a[..., m, k] x b[..., k, n] with broadcast batch dims',
    arity: [2, 2],
    attrs: {},
    groups: ['linear'],
    infer: (ins) => [{ dtype: sameDtype(ins), shape: matmulShape(ins[0]!.shape, ins[1]!.shape) }],
  },

  // normalisation and softmax
  softmax: softmaxLike('softmax(x + mask) along axis; approx 2quad is MPCFormer (x + c)^2 normalisation', {
    axis: { kind: 'int', default: -1 },
    approx: { kind: 'string', default: 'exact', oneOf: ['exact', '2quad'] },
  }),
  log_softmax: softmaxLike('log(softmax(x + mask)) along axis', { axis: { kind: 'int', default: -1 } }, [
    'plaintext',
  ]),
  layernorm: {
    doc: '(x - mean) / sqrt(var + epsilon) * scale + bias over the trailing axes from axis',
    arity: [2, 3],
    attrs: { axis: { kind: 'int', default: -1 }, epsilon: { kind: 'float', default: 1e-5 } },
    groups: ['nonlinear'],
    infer: ([x, scale, bias], a) => {
      requireDtype(x!, ['f32']);
      const axis = normalizeAxis(intAttr(a, 'axis'), x!.shape.length);
      const normShape = x!.shape.slice(axis);
      for (const p of [scale, bias]) {
        if (p && numel(p.shape) !== numel(normShape))
          throw new MarillError(
            `layernorm parameter ${formatShape(p.shape)} does not match ${formatShape(normShape)}`,
          );
      }
      return [{ dtype: 'f32', shape: x!.shape }];
    },
  },
  rmsnorm: {
    doc: 'x / sqrt(mean(x^2) + epsilon) * scale over the trailing axes from axis',
    arity: [2, 2],
    attrs: { axis: { kind: 'int', default: -1 }, epsilon: { kind: 'float', default: 1e-6 } },
    groups: ['nonlinear'],
    infer: ([x, scale], a) => {
      requireDtype(x!, ['f32']);
      const axis = normalizeAxis(intAttr(a, 'axis'), x!.shape.length);
      if (numel(scale!.shape) !== numel(x!.shape.slice(axis)))
        throw new MarillError(
          `rmsnorm scale ${formatShape(scale!.shape)} does not match the normalised axes`,
        );
      return [{ dtype: 'f32', shape: x!.shape }];
    },
  },

  // reductions
  reduce_sum: reduction('sum over axes', ['linear']),
  reduce_mean: reduction('mean over axes', ['linear']),
  reduce_max: reduction('maximum over axes', ['nonlinear']),
  argmax: {
    doc: 'index of the maximum along axis (first on ties)',
    arity: [1, 1],
    attrs: { axis: { kind: 'int' }, keepdims: { kind: 'int', default: 1 } },
    groups: ['nonlinear'],
    infer: ([x], a) => [
      { dtype: 'i64', shape: reducedShape(x!.shape, [intAttr(a, 'axis')], intAttr(a, 'keepdims') !== 0) },
    ],
  },

  // data movement
  gather: {
    doc: 'take slices of data along axis at integer indices (negative indices count from the end)',
    arity: [2, 2],
    attrs: { axis: { kind: 'int', default: 0 } },
    groups: ['movement'],
    infer: ([data, idx], a) => {
      requireDtype(idx!, ['i64'], 'indices');
      const axis = normalizeAxis(intAttr(a, 'axis'), data!.shape.length);
      return [
        {
          dtype: data!.dtype,
          shape: [...data!.shape.slice(0, axis), ...idx!.shape, ...data!.shape.slice(axis + 1)],
        },
      ];
    },
  },
  reshape: {
    doc: 'same elements, new static shape',
    arity: [1, 1],
    attrs: { shape: { kind: 'ints' } },
    groups: ['movement'],
    infer: ([x], a) => [{ dtype: x!.dtype, shape: resolveReshape(x!.shape, intsAttr(a, 'shape'), true) }],
  },
  transpose: {
    doc: 'permute axes: out.shape[i] = in.shape[perm[i]]',
    arity: [1, 1],
    attrs: { perm: { kind: 'ints' } },
    groups: ['movement'],
    infer: ([x], a) => {
      const perm = intsAttr(a, 'perm');
      checkPermutation(perm, x!.shape.length);
      return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
    },
  },
  slice: {
    doc: 'strided slice; starts/ends are clamped and non-negative (ends may be -1 for a negative step)',
    arity: [1, 1],
    attrs: {
      starts: { kind: 'ints' },
      ends: { kind: 'ints' },
      axes: { kind: 'ints' },
      steps: { kind: 'ints' },
    },
    groups: ['movement'],
    infer: ([x], a) => [
      {
        dtype: x!.dtype,
        shape: sliceShape(
          x!.shape,
          intsAttr(a, 'starts'),
          intsAttr(a, 'ends'),
          intsAttr(a, 'axes'),
          intsAttr(a, 'steps'),
        ),
      },
    ],
  },
  concat: {
    doc: 'join along axis',
    arity: [1, Infinity],
    attrs: { axis: { kind: 'int' } },
    groups: ['movement'],
    infer: (ins, a) => {
      const dtype = sameDtype(ins);
      const rank = ins[0]!.shape.length;
      const axis = normalizeAxis(intAttr(a, 'axis'), rank);
      const out = [...ins[0]!.shape];
      out[axis] = 0;
      for (const t of ins) {
        if (t.shape.length !== rank || t.shape.some((d, i) => i !== axis && d !== out[i]))
          throw new MarillError(
            `concat operands ${ins.map((x) => formatShape(x.shape)).join(', ')} differ off axis ${axis}`,
          );
        out[axis]! += t.shape[axis]!;
      }
      return [{ dtype, shape: out }];
    },
  },
  split: {
    doc: 'cut along axis into pieces of the given sizes (one result per size)',
    arity: [1, 1],
    attrs: { axis: { kind: 'int' }, sizes: { kind: 'ints' } },
    groups: ['movement'],
    infer: ([x], a) => {
      const axis = normalizeAxis(intAttr(a, 'axis'), x!.shape.length);
      const sizes = intsAttr(a, 'sizes');
      if (sizes.reduce((s, d) => s + d, 0) !== x!.shape[axis])
        throw new MarillError(
          `split sizes [${sizes.join(',')}] do not add up to dimension ${x!.shape[axis]}`,
        );
      return sizes.map((s) => {
        const shape = [...x!.shape];
        shape[axis] = s;
        return { dtype: x!.dtype, shape };
      });
    },
  },
  expand: {
    doc: 'broadcast to shape',
    arity: [1, 1],
    attrs: { shape: { kind: 'ints' } },
    groups: ['movement'],
    infer: ([x], a) => [{ dtype: x!.dtype, shape: expandShape(x!.shape, intsAttr(a, 'shape')) }],
  },
  trilu: {
    doc: 'keep the upper (upper=1) or lower triangle of the last two axes, offset by k diagonals; zero elsewhere',
    arity: [1, 1],
    attrs: { upper: { kind: 'int', default: 1 }, k: { kind: 'int', default: 0 } },
    groups: ['movement'],
    infer: ([x]) => {
      if (x!.shape.length < 2) throw new MarillError('trilu needs rank >= 2');
      return [x!];
    },
  },

  // visibility boundary
  share: {
    doc: 'secret-share a client or server value (the owner sends the other party its share)',
    arity: [1, 1],
    attrs: { from: { kind: 'string', oneOf: ['client', 'server'] } },
    groups: ['boundary'],
    infer: ([x]) => [x!],
  },
  reveal: {
    doc: 'open a secret value to the client (only declared outputs may be revealed)',
    arity: [1, 1],
    attrs: { to: { kind: 'string', oneOf: ['client', 'server'] } },
    groups: ['boundary'],
    infer: ([x]) => [x!],
  },
} as const satisfies Record<string, OpDef>;

export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];

export function isOpName(name: string): name is OpName {
  return Object.prototype.hasOwnProperty.call(OPS, name);
}

export function hasGroup(op: OpName, group: OpGroup): boolean {
  return (OPS[op] as OpDef).groups.includes(group);
}

/** Whether a node of this op may be placed `mpc` (run on secret data): it computes, and a protocol runs it. */
export function mayRunUnderMpc(op: OpName): boolean {
  return !hasGroup(op, 'source') && !hasGroup(op, 'plaintext');
}

/** Attributes with defaults filled in; throws on unknown, missing or ill-typed ones. */
export function normalizeAttrs(op: OpName, attrs: Attrs): Attrs {
  const spec = (OPS[op] as OpDef).attrs;
  const out: Record<string, number | string | readonly number[]> = {};
  for (const key of Object.keys(attrs))
    if (!(key in spec)) throw new MarillError(`op '${op}' has no attribute '${key}'`);
  for (const [key, s] of Object.entries(spec)) {
    const v = attrs[key] ?? s.default;
    if (v === undefined) throw new MarillError(`op '${op}' needs attribute '${key}'`);
    const ok =
      s.kind === 'ints' || s.kind === 'floats'
        ? Array.isArray(v) && (s.kind === 'floats' || v.every((x) => Number.isInteger(x)))
        : s.kind === 'string'
          ? typeof v === 'string' && (!s.oneOf || s.oneOf.includes(v))
          : typeof v === 'number' && (s.kind === 'float' || Number.isInteger(v));
    if (!ok) throw new MarillError(`op '${op}' attribute '${key}' has a bad value ${JSON.stringify(v)}`);
    out[key] = v;
  }
  return out;
}

/** Result types of an op from its operand types (checks arity and attributes first). */
export function inferTypes(op: OpName, inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
  const def = OPS[op] as OpDef;
  const [lo, hi] = def.arity;
  if (inputs.length < lo || inputs.length > hi)
    throw new MarillError(
      `op '${op}' takes ${lo === hi ? lo : `${lo} to ${hi}`} operands, got ${inputs.length}`,
    );
  if (!def.infer) throw new MarillError(`op '${op}' is a source; its type is declared`);
  return def.infer(inputs, normalizeAttrs(op, attrs));
}
