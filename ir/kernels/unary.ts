/**
 * One-operand elementwise ops. Float functions are evaluated in float64 and
 * rounded once to float32 when stored, which keeps them within an ulp or two of
 * onnxruntime's float32 kernels.
 */
import { MarillError } from '../errors.ts';
import { stringAttr } from '../ops.ts';
import type { Tensor } from '../tensor.ts';
import { makeTensor } from '../tensor.ts';
import { erf } from './erf.ts';
import type { Kernel } from './kernel.ts';
import { boolData, f32Data, operand } from './kernel.ts';

type FloatFn = (x: number) => number;

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The GeLU variants selectable with `--gelu` (see the op doc in ir/ops.ts). */
export const GELU: Readonly<Record<string, FloatFn>> = {
  erf: (x) => 0.5 * x * (1 + erf(x * SQRT1_2)),
  tanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  relu: (x) => (x < 0 ? 0 : x),
  // MPCFormer's quadratic replacement.
  quad: (x) => 0.125 * x * x + 0.25 * x + 0.5,
};

function mapFloat(x: Tensor, f: FloatFn): Tensor {
  const src = f32Data(x);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]!);
  return makeTensor('f32', x.shape, out);
}

/** A kernel applying f to every element of one f32 operand. */
export function floatUnary(op: string, f: FloatFn): Kernel {
  return (inputs) => [mapFloat(operand(inputs, 0, op), f)];
}

export const gelu: Kernel = (inputs, attrs) => {
  const approx = stringAttr(attrs, 'approx');
  const f = GELU[approx];
  if (!f) throw new MarillError(`gelu has no approximation '${approx}'`);
  return [mapFloat(operand(inputs, 0, 'gelu'), f)];
};

export const neg: Kernel = (inputs) => {
  const x = operand(inputs, 0, 'neg');
  if (x.dtype === 'i64') {
    const src = x.data as BigInt64Array;
    return [
      makeTensor(
        'i64',
        x.shape,
        src.map((v) => -v),
      ),
    ];
  }
  return [mapFloat(x, (v) => -v)];
};

export const not: Kernel = (inputs) => {
  const x = operand(inputs, 0, 'not');
  const src = boolData(x);
  return [
    makeTensor(
      'bool',
      x.shape,
      src.map((v) => (v ? 0 : 1)),
    ),
  ];
};

export const UNARY_FLOAT = {
  abs: floatUnary('abs', Math.abs),
  sqrt: floatUnary('sqrt', Math.sqrt),
  rsqrt: floatUnary('rsqrt', (x) => 1 / Math.sqrt(x)),
  reciprocal: floatUnary('reciprocal', (x) => 1 / x),
  exp: floatUnary('exp', Math.exp),
  log: floatUnary('log', Math.log),
  erf: floatUnary('erf', erf),
  tanh: floatUnary('tanh', Math.tanh),
  sigmoid: floatUnary('sigmoid', sigmoid),
  relu: floatUnary('relu', (x) => (x < 0 ? 0 : x)),
  silu: floatUnary('silu', (x) => x * sigmoid(x)),
  sin: floatUnary('sin', Math.sin),
  cos: floatUnary('cos', Math.cos),
} as const satisfies Record<string, Kernel>;
