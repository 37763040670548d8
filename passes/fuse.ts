/**
 * Pass `fuse`: fusion of what exporters decompose, as pattern tables.
 *
 * Preconditions: cleanup has run (constants folded, so every constant factor
 * is a `const` node; CSE done, so a value computed once is one node and a
 * pattern that mentions `x` twice sees the same value twice).
 * Algorithm:
 *   1. Canonical forms (CANONICAL_RULES, to a fixpoint): every inverse square
 *      root becomes `rsqrt`, so the norm patterns need one spelling of it.
 *   2. Fusion (FUSION_RULES, to a fixpoint, larger patterns first; see
 *      passes/rewrite.ts for the engine: a match is rewritten only when its
 *      inner values are used nowhere else, so fusion never duplicates work):
 *        gelu {approx="erf"}   x * 0.5 * (1 + erf(x / sqrt2))   (any association; / sqrt2 or * 0.7071...)
 *        gelu {approx="tanh"}  0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   (pow 3 or x*x*x)
 *        silu                  x * sigmoid(x)
 *        layernorm, rmsnorm    passes/fuse-norm.ts
 *        masked softmax        passes/fuse-softmax.ts
 *   A gated MLP (LLaMA: down(silu(gate(x)) * up(x))) is left as silu(gate) * up:
 *   the gate's product with `up` is an ordinary secret-times-secret multiply
 *   that a dedicated op would not make cheaper. Attention is left as its
 *   matmuls and a softmax over [b, heads, s, s]: the head count stays visible in
 *   that shape, which is what the cost model and the report read.
 * All rewrites are exact up to float rounding (the plaintext interpreter gives
 * the same outputs within 1e-4), except the where-mask rule, exact in float32
 * for masks at or below -1e4 (see fuse-softmax.ts).
 */
import type { Graph, Node } from '../ir/graph.ts';
import type { PassContext } from './context.ts';
import { NORM_RULES } from './fuse-norm.ts';
import { SOFTMAX_RULES } from './fuse-softmax.ts';
import type { Pass } from './manager.ts';
import { constant, op, oneOf, product, scalar, v } from './patterns.ts';
import type { RewriteRule } from './rewrite.ts';
import { applyRules, cap } from './rewrite.ts';

const onlyOnes = constant((vals) => vals.length === 1 && vals[0] === 1);

export const CANONICAL_RULES: readonly RewriteRule[] = [
  {
    // 1 / sqrt(y) = rsqrt(y)
    name: 'rsqrt-from-div',
    pattern: op('div', [onlyOnes, op('sqrt', [v('y')])]),
    sameTypeAs: 'y',
    rewrite: (m, e) => [e.add1('rsqrt', [cap(m, 'y')])],
  },
  {
    // reciprocal(sqrt(y)) = rsqrt(y)
    name: 'rsqrt-from-reciprocal',
    pattern: op('reciprocal', [op('sqrt', [v('y')])]),
    rewrite: (m, e) => [e.add1('rsqrt', [cap(m, 'y')])],
  },
  {
    // y ^ -0.5 = rsqrt(y)
    name: 'rsqrt-from-pow',
    pattern: op('pow', [v('y'), scalar(-0.5)]),
    sameTypeAs: 'y',
    check: (m) => m.env.info(cap(m, 'y')).type.dtype === 'f32',
    rewrite: (m, e) => [e.add1('rsqrt', [cap(m, 'y')])],
  },
  {
    // x / sqrt(y) = x * rsqrt(y)   (one non-linear op and a multiply instead of two non-linear ops)
    name: 'div-sqrt-to-mul-rsqrt',
    pattern: op('div', [v('x'), op('sqrt', [v('y')])]),
    rewrite: (m, e) => [e.add1('mul', [cap(m, 'x'), e.add1('rsqrt', [cap(m, 'y')])])],
  },
];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** x^3 as exporters write it. */
const cube = oneOf(op('pow', [v('x'), scalar(3)]), product([v('x'), v('x'), v('x')]));

const ACTIVATION_RULES: readonly RewriteRule[] = [
  {
    // x * 0.5 * (1 + erf(x / sqrt2)) = x * Phi(x) = gelu(x)
    name: 'gelu-erf',
    pattern: product([
      v('x'),
      scalar(0.5),
      op('add', [op('erf', [product([v('x'), scalar(Math.SQRT1_2)])]), scalar(1)], { commutative: true }),
    ]),
    sameTypeAs: 'x',
    rewrite: (m, e) => [e.add1('gelu', [cap(m, 'x')], { approx: 'erf' })],
  },
  {
    // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) = gelu_tanh(x)
    name: 'gelu-tanh',
    pattern: product([
      v('x'),
      scalar(0.5),
      op(
        'add',
        [
          op('tanh', [
            product([
              scalar(SQRT_2_OVER_PI),
              op(
                'add',
                [
                  v('x'),
                  oneOf(
                    product([scalar(0.044715), cube]),
                    product([scalar(0.044715), v('x'), v('x'), v('x')]),
                  ),
                ],
                { commutative: true },
              ),
            ]),
          ]),
          scalar(1),
        ],
        { commutative: true },
      ),
    ]),
    sameTypeAs: 'x',
    rewrite: (m, e) => [e.add1('gelu', [cap(m, 'x')], { approx: 'tanh' })],
  },
  {
    // x * sigmoid(x) = silu(x)
    name: 'silu',
    pattern: product([v('x'), op('sigmoid', [v('x')])]),
    sameTypeAs: 'x',
    rewrite: (m, e) => [e.add1('silu', [cap(m, 'x')])],
  },
];

/** Norms first: their trees are the largest, and contain no activation. */
export const FUSION_RULES: readonly RewriteRule[] = [...NORM_RULES, ...ACTIVATION_RULES, ...SOFTMAX_RULES];

/** Runs both tables; `onRewrite` hears each rule application (counts for tests and reports). */
export function fuse(g: Graph, onRewrite?: (rule: string, root: Node) => void): Graph {
  const opts = onRewrite ? { onRewrite } : {};
  return applyRules(applyRules(g, CANONICAL_RULES, opts), FUSION_RULES, opts);
}

export const fusePass: Pass = {
  name: 'fuse',
  summary: 'fuse decomposed GeLU (erf, tanh), LayerNorm, RMSNorm, SiLU and masked softmax into single ops',
  run: (g: Graph, _ctx: PassContext) => fuse(g),
};
