/**
 * Op protocols for elementwise non-linear ops (see ./op-common.ts for the naming):
 *
 *   relu.{dcf,bool}        relu, gelu(approx=relu)        exact
 *   abs.{dcf,bool}         abs                            exact
 *   cmp.{dcf,bool}         less, greater, equal           exact, bool result
 *   exp.{dcf,bool}         exp (inputs <= 0.5)            <= 7.3e-5
 *   reciprocal.{dcf,bool}  reciprocal on [2^-8, 2^12]     newtonErrorBound
 *   rsqrt.{dcf,bool}       rsqrt on [2^-10, 2^20]         newtonErrorBound
 *   sqrt.{dcf,bool}        sqrt on 0 and [2^-10, 2^20]    sqrtErrorBound
 *   gelu.erf.{dcf,bool}, gelu.tanh.{dcf,bool}, silu.{dcf,bool}, sigmoid.{dcf,bool},
 *   tanh.{dcf,bool}, erf.{dcf,bool}                       splineErrorBound (~1.2e-4)
 *   gelu.quad              gelu(approx=quad)              <= 2^-f
 *   where.beaver           where with a non-public condition   exact
 */
import type { NodeSpec, Protocol } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import type { OpProtocol } from '../op-protocol.ts';
import { defineOpProtocol, nodeError } from '../op-protocol.ts';
import type { CompareVariant } from './compare.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { ExpParams } from './exp.ts';
import { expProtocol } from './exp.ts';
import type { NewtonKind, NewtonParams } from './newton.ts';
import { finishedNewton } from './newton.ts';
import {
  operandAs,
  operandRing,
  operandScale,
  requireAttr,
  requireFloat,
  requireNonPublic,
  resultOperand,
  resultSize,
  variantName,
} from './op-common.ts';
import { quadGeluProtocol } from './quad.ts';
import { exactCompare, magnitudeBitsAt } from './ranges.ts';
import { selectProtocol } from './select.ts';
import { sqrtProtocol } from './sqrt.ts';
import type { SignOp, SignParams } from './sign-ops.ts';
import { signCompare, signProtocol } from './sign-ops.ts';
import type { SplineFunction } from './spline-specs.ts';
import type { SplineParams } from './spline.ts';
import { splineProtocol } from './spline.ts';

// ---- one comparison ----------------------------------------------------------------------------

interface SignOpParams extends SignParams {
  readonly node: NodeSpec;
}

const SIGN_OPS: Readonly<Record<string, string>> = {
  relu: 'max(x, 0) = x - [x < 0] x from one comparison with select; exact',
  abs: '|x| = x - 2 [x < 0] x from one comparison with select; exact',
  cmp: '[x < y], [x > y], [x == y] as shared 0/1; exact',
};

function signOpOf(node: NodeSpec): SignOp {
  return node.op === 'gelu' ? 'relu' : (node.op as SignOp);
}

function signProtocolFor(base: string, variant: CompareVariant): OpProtocol {
  const name = variantName(base, variant);
  return defineOpProtocol<SignOpParams, ReturnType<typeof signProtocol.material>>({
    name,
    doc: `${SIGN_OPS[base]!} (${variant} comparison)`,
    params(node, settings) {
      if (node.op === 'gelu') requireAttr(node, 'approx', 'relu', name);
      if (node.inputs.every((x) => x.visibility === 'public'))
        throw nodeError(node, `'${name}' needs a non-public operand`);
      const op = signOpOf(node);
      const scale = operandScale(node, 0, settings.fracBits);
      const base = exactCompare(variant, resultSize(node), 1, scale, false, magnitudeBitsAt(scale));
      return { node, op, compare: signCompare(op, base) };
    },
    deal: (p, d) => signProtocol.deal(p, d),
    material: (p, s) => signProtocol.material(p, s),
    async online(ctx, p, m, inputs) {
      const shape = p.node.outputs[0]!.shape;
      const operands = p.node.inputs.map((_, i) => operandAs(ctx, p.node, inputs, i, shape));
      return resultOperand(p.node, await signProtocol.online(ctx, p, m, operands));
    },
    cost: (p) => signProtocol.cost(p),
  });
}

// ---- exp, reciprocal, rsqrt --------------------------------------------------------------------

interface UnaryParams<P> {
  readonly node: NodeSpec;
  readonly inner: P;
}

/** An op protocol running `protocol` on operand 0 (a non-public f32 tensor) elementwise. */
function unaryOp<P, M>(
  name: string,
  doc: string,
  protocol: Protocol<P, M, Ring, Ring>,
  make: (node: NodeSpec, n: number, fracBits: number) => P,
): OpProtocol {
  return defineOpProtocol<UnaryParams<P>, M>({
    name,
    doc,
    params(node, settings) {
      requireNonPublic(node, 0, name);
      requireFloat(node, name);
      return { node, inner: make(node, resultSize(node), settings.fracBits) };
    },
    deal: (p, d) => protocol.deal(p.inner, d),
    material: (p, s) => protocol.material(p.inner, s),
    async online(ctx, p, m, inputs) {
      return resultOperand(
        p.node,
        await protocol.online(ctx, p.inner, m, operandRing(ctx, p.node, inputs, 0)),
      );
    },
    cost: (p) => protocol.cost(p.inner),
  });
}

/** Generic-op domains of the Newton protocols (softmax and norms use their own). */
const NEWTON_DOMAINS: Readonly<Record<NewtonKind, { lo: number; hi: number }>> = {
  reciprocal: { lo: -8, hi: 12 },
  rsqrt: { lo: -10, hi: 20 },
};

/** Newton parameters of the generic ops: their domain, 4 first-guess points per octave, 2 steps. */
function genericNewton(kind: NewtonKind, variant: CompareVariant, n: number, fracBits: number): NewtonParams {
  return { kind, variant, n, fracBits, ...NEWTON_DOMAINS[kind], perOctave: 4, iterations: 2 };
}

function newtonOp(kind: NewtonKind, variant: CompareVariant): OpProtocol {
  return unaryOp<NewtonParams, ReturnType<typeof finishedNewton.material>>(
    variantName(kind, variant),
    `${kind === 'reciprocal' ? '1/x' : '1/sqrt x'} on [2^${NEWTON_DOMAINS[kind].lo}, 2^${NEWTON_DOMAINS[kind].hi}]: comparison-based first guess + 2 Newton steps (${variant})`,
    finishedNewton,
    (_node, n, fracBits) => genericNewton(kind, variant, n, fracBits),
  );
}

function sqrtOp(variant: CompareVariant): OpProtocol {
  return unaryOp<NewtonParams, ReturnType<typeof sqrtProtocol.material>>(
    variantName('sqrt', variant),
    `sqrt x = x (1/sqrt x) on {0} and [2^${NEWTON_DOMAINS.rsqrt.lo}, 2^${NEWTON_DOMAINS.rsqrt.hi}], fused product (${variant})`,
    sqrtProtocol,
    (_node, n, fracBits) => genericNewton('rsqrt', variant, n, fracBits),
  );
}

function expOp(variant: CompareVariant): OpProtocol {
  return unaryOp<ExpParams, ReturnType<typeof expProtocol.material>>(
    variantName('exp', variant),
    `e^x for x <= 0.5: clip at -16, (1 + t + t^2/2)^64 with fused squarings; error <= 7.3e-5 (${variant})`,
    expProtocol,
    (_node, n, fracBits) => ({ variant, n, fracBits }),
  );
}

// ---- splines -----------------------------------------------------------------------------------

/** The spline functions, with the `approx` a gelu node must carry for the GeLU ones. */
const SPLINE_OPS: Readonly<Record<SplineFunction, { readonly approx?: string }>> = {
  'gelu.erf': { approx: 'erf' },
  'gelu.tanh': { approx: 'tanh' },
  silu: {},
  sigmoid: {},
  tanh: {},
  erf: {},
};

function splineOp(fn: SplineFunction, variant: CompareVariant): OpProtocol {
  const { approx } = SPLINE_OPS[fn];
  const name = variantName(fn, variant);
  return unaryOp<SplineParams, ReturnType<typeof splineProtocol.material>>(
    name,
    `${fn} as piecewise cubics from one multi-threshold comparison, 3 rounds (${variant})`,
    splineProtocol,
    (node, n, fracBits) => {
      if (approx !== undefined) requireAttr(node, 'approx', approx, name);
      return { fn, variant, n, fracBits };
    },
  );
}

// ---- no comparison -----------------------------------------------------------------------------

const quadGeluOp = unaryOp<{ n: number; fracBits: number }, ReturnType<typeof quadGeluProtocol.material>>(
  'gelu.quad',
  'MPCFormer quad GeLU 0.125x^2 + 0.25x + 0.5: one Beaver square and one truncation; error <= 2^-f',
  quadGeluProtocol,
  (node, n, fracBits) => {
    requireAttr(node, 'approx', 'quad', 'gelu.quad');
    return { n, fracBits };
  },
);

const whereOp = defineOpProtocol<{ node: NodeSpec; n: number }, ReturnType<typeof selectProtocol.material>>({
  name: 'where.beaver',
  doc: 'where(c, x, y) with a non-public condition: y + c (x - y), one Beaver product; exact',
  params(node) {
    requireNonPublic(node, 0, 'where.beaver');
    return { node, n: resultSize(node) };
  },
  deal: (p, d) => selectProtocol.deal(p, d),
  material: (p, s) => selectProtocol.material(p, s),
  async online(ctx, p, m, inputs) {
    const shape = p.node.outputs[0]!.shape;
    const [c, x, y] = [0, 1, 2].map((i) => operandAs(ctx, p.node, inputs, i, shape));
    return resultOperand(p.node, await selectProtocol.online(ctx, p, m, [c!, x!, y!]));
  },
  cost: (p) => selectProtocol.cost(p),
});

/** All elementwise non-linear op protocols, DCF variants before boolean ones. */
export const ELEMENTWISE_PROTOCOLS: readonly OpProtocol[] = [
  ...COMPARE_VARIANTS.flatMap((v) => [
    ...Object.keys(SIGN_OPS).map((base) => signProtocolFor(base, v)),
    expOp(v),
    newtonOp('reciprocal', v),
    newtonOp('rsqrt', v),
    sqrtOp(v),
    ...(Object.keys(SPLINE_OPS) as SplineFunction[]).map((fn) => splineOp(fn, v)),
  ]),
  quadGeluOp,
  whereOp,
];
