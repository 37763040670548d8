/**
 * Fusion rules for decomposed normalisations (part of pass `fuse`, passes/fuse.ts).
 *
 * Preconditions: the canonical rules of fuse.ts have run, so every inverse
 * square root is an `rsqrt` (div(d, sqrt(v)) is mul(d, rsqrt(v)); reciprocal
 * and pow -0.5 forms likewise).
 *
 *   layernorm  ((x - mean(x)) * rsqrt(mean((x - mean(x))^2) + eps)) * gamma + beta
 *              (torch's decomposition of nn.LayerNorm below opset 17; ^2 as pow 2 or d*d;
 *              gamma and beta each optional; factors in any order and association)
 *   rmsnorm    x * rsqrt(mean(x^2) + eps) * w     (LLaMA's RMSNorm; w optional)
 *
 * Both need: the reductions over the trailing axes with keepdims (the axes
 * layernorm/rmsnorm normalise), both means of a layernorm over the same axes,
 * eps a one-element constant, and gamma/beta/w shaped like the normalised axes
 * (leading 1s allowed): a per-row factor is not a norm scale. A missing scale
 * becomes a constant of ones (the IR ops require one).
 */
import type { Node, ValueId } from '../ir/graph.ts';
import { intAttr, intsAttr } from '../ir/ops.ts';
import { normalizeAxis } from '../ir/shape-rules.ts';
import { fromNumbers } from '../ir/tensor.ts';
import { numel, shapeEquals } from '../ir/types.ts';
import type { Shape } from '../ir/types.ts';
import { formatF32 } from '../ir/mir-text.ts';
import type { Pattern } from './patterns.ts';
import { anyScalar, op, oneOf, product, scalar, v } from './patterns.ts';
import type { Emitter, Match, RewriteRule } from './rewrite.ts';
import { cap, maybeCap } from './rewrite.ts';

const keepdims = { test: (n: Node) => intAttr(n.attrs, 'keepdims') === 1 };

/** d^2, as exporters write it. */
function square(d: Pattern): Pattern {
  return oneOf(op('pow', [d, scalar(2)]), op('mul', [d, d]));
}

function mean(of: Pattern, name: string): Pattern {
  return op('reduce_mean', [of], { name, ...keepdims });
}

/** rsqrt(mean(d^2) + eps) for the captured value `d`. */
function inverseRms(d: string): Pattern {
  return op('rsqrt', [op('add', [mean(square(v(d)), 'var'), anyScalar('eps')], { commutative: true })]);
}

const centered = op('sub', [v('x'), mean(v('x'), 'mean')], { name: 'd' });

// ---- checks -------------------------------------------------------------------------------------

/** The first normalised axis, when a reduction covers exactly the trailing axes of its input. */
function trailingAxis(m: Match, reduced: ValueId): number | undefined {
  const n = m.env.producer(reduced)!;
  const rank = m.env.info(n.inputs[0]!).type.shape.length;
  const axes = [...new Set(intsAttr(n.attrs, 'axes').map((a) => normalizeAxis(a, rank)))].sort(
    (a, b) => a - b,
  );
  if (axes.length === 0) return undefined;
  return axes.every((a, i) => a === rank - axes.length + i) ? axes[0] : undefined;
}

function stripLeadingOnes(shape: Shape): Shape {
  let i = 0;
  while (i < shape.length && shape[i] === 1) i++;
  return shape.slice(i);
}

/** A parameter fits when it is shaped like the normalised axes, up to leading 1s. */
function fitsNormShape(m: Match, param: ValueId | undefined, normShape: Shape): boolean {
  if (param === undefined) return true;
  const t = m.env.info(param).type;
  return t.dtype === 'f32' && shapeEquals(stripLeadingOnes(t.shape), stripLeadingOnes(normShape));
}

interface NormSite {
  /** The first normalised axis, negative (counted from the end), as the fused op's attribute. */
  readonly axis: number;
  readonly normShape: Shape;
}

function normSite(m: Match, reductions: readonly string[]): NormSite | undefined {
  const x = m.env.info(cap(m, 'x')).type;
  if (x.dtype !== 'f32') return undefined;
  const axes = reductions.map((r) => trailingAxis(m, cap(m, r)));
  const axis = axes[0];
  if (axis === undefined || axes.some((a) => a !== axis)) return undefined;
  return { axis: axis - x.shape.length, normShape: x.shape.slice(axis) };
}

function epsilonOf(m: Match): number {
  // The shortest decimal of the f32 constant: 1e-12, not 9.999999960041972e-13.
  return Number(formatF32(m.env.scalarValue(cap(m, 'eps'))!));
}

function scaleOrOnes(m: Match, e: Emitter, name: string, normShape: Shape): ValueId {
  const scale = maybeCap(m, name);
  if (scale !== undefined) return scale;
  return e.addConst(fromNumbers('f32', normShape, new Array<number>(numel(normShape)).fill(1)));
}

// ---- rules ----------------------------------------------------------------------------------------

function layernormPattern(): Pattern {
  const normalized = [centered, inverseRms('d')];
  const scaled = oneOf(product([...normalized, v('gamma')]), product(normalized));
  return oneOf(op('add', [scaled, v('beta')], { commutative: true }), scaled);
}

function rmsnormPattern(): Pattern {
  const normalized = [v('x'), inverseRms('x')];
  return oneOf(product([...normalized, v('w')]), product(normalized));
}

export const NORM_RULES: readonly RewriteRule[] = [
  {
    // (x - E[x]) / sqrt(E[(x - E[x])^2] + eps) * gamma + beta  =  layernorm(x, gamma, beta; eps)
    name: 'layernorm',
    pattern: layernormPattern(),
    sameTypeAs: 'x',
    check: (m) => {
      const site = normSite(m, ['mean', 'var']);
      return (
        site !== undefined &&
        fitsNormShape(m, maybeCap(m, 'gamma'), site.normShape) &&
        fitsNormShape(m, maybeCap(m, 'beta'), site.normShape)
      );
    },
    rewrite: (m, e) => {
      const site = normSite(m, ['mean', 'var'])!;
      const beta = maybeCap(m, 'beta');
      const gamma = scaleOrOnes(m, e, 'gamma', site.normShape);
      const args = beta === undefined ? [cap(m, 'x'), gamma] : [cap(m, 'x'), gamma, beta];
      return [e.add1('layernorm', args, { axis: site.axis, epsilon: epsilonOf(m) })];
    },
  },
  {
    // x / sqrt(E[x^2] + eps) * w  =  rmsnorm(x, w; eps)
    name: 'rmsnorm',
    pattern: rmsnormPattern(),
    sameTypeAs: 'x',
    check: (m) => {
      const site = normSite(m, ['var']);
      return site !== undefined && fitsNormShape(m, maybeCap(m, 'w'), site.normShape);
    },
    rewrite: (m, e) => {
      const site = normSite(m, ['var'])!;
      const w = scaleOrOnes(m, e, 'w', site.normShape);
      return [e.add1('rmsnorm', [cap(m, 'x'), w], { axis: site.axis, epsilon: epsilonOf(m) })];
    },
  },
];
