/**
 * Fusion rules for masked softmax (part of pass `fuse`, passes/fuse.ts).
 *
 * The IR's softmax takes an optional additive mask: softmax(x, mask) =
 * softmax(x + mask). Keeping the mask apart from the scores tells later stages
 * what is data and what is a mask: placement sees a public causal mask or the
 * client's padding mask as such, and 2quad excludes masked positions (mask
 * <= MASK_EXCLUDED) instead of squaring them. The scores keep their shape
 * [b, heads, s, s], so the head count stays visible to the cost model.
 *
 *   additive   softmax(scores + mask)        -> softmax(scores, mask)
 *              Which operand is the mask: one computed without any weight (from
 *              graph inputs and constants only), with the scores' full shape on
 *              the other side; if both qualify, the one that broadcasts (HF's
 *              [b, 1, 1, s] padding mask), else the second operand. With no
 *              weight-free operand the add is left alone.
 *   where      softmax(where(c, x, fill))    -> softmax(x, M),  M = where(c, 0, fill)
 *              (GPT-2: a constant causal condition c, fill a large negative
 *              constant; also where(c, fill, x) with M = where(c, fill, 0)).
 *              Algebra: at kept positions (M = 0) both sides see x. At masked
 *              positions the left sees fill and the right x + fill; with
 *              fill <= MASK_EXCLUDED (-1e4) and |x| far below that, exp(. - rowmax)
 *              underflows to 0 on both sides. Needed: every softmax row keeps at
 *              least one position (else the left is uniform over the row and the
 *              right is softmax(x)); checked on the constant, as causal masks do.
 * An existing mask operand is kept and added to the new one (masks are additive).
 */
import type { Node, ValueId } from '../ir/graph.ts';
import { evalOp } from '../ir/interpret.ts';
import { axisView } from '../ir/kernels/kernel.ts';
import { MASK_EXCLUDED } from '../ir/kernels/softmax.ts';
import { intAttr } from '../ir/ops.ts';
import { normalizeAxis } from '../ir/shape-rules.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers, toNumbers } from '../ir/tensor.ts';
import { shapeEquals } from '../ir/types.ts';
import { constTensor } from './fold-constants.ts';
import type { Pattern } from './patterns.ts';
import { constant, op, oneOf, v } from './patterns.ts';
import type { Emitter, Match, RewriteRule } from './rewrite.ts';
import { cap, maybeCap } from './rewrite.ts';

const SOFTMAX_OPS = ['softmax', 'log_softmax'] as const;

/** softmax(inner) or softmax(inner, mask): both forms, the existing mask captured as `mask`. */
function softmaxOf(inner: Pattern): Pattern {
  return oneOf(op(SOFTMAX_OPS, [inner]), op(SOFTMAX_OPS, [inner, v('mask')]));
}

/** The fused softmax: the root's op and attributes, the new mask added to any existing one. */
function emitSoftmax(m: Match, e: Emitter, scores: ValueId, mask: ValueId): ValueId[] {
  const existing = maybeCap(m, 'mask');
  const combined = existing === undefined ? mask : e.add1('add', [mask, existing]);
  return [e.add1(m.root.op, [scores, combined], m.root.attrs)];
}

// ---- additive masks -------------------------------------------------------------------------------

interface ScoresAndMask {
  readonly scores: ValueId;
  readonly mask: ValueId;
}

function splitScoresAndMask(m: Match): ScoresAndMask | undefined {
  const resultShape = m.env.info(m.root.outputs[0]!).type.shape;
  const a = cap(m, 'a');
  const b = cap(m, 'b');
  const candidates: ScoresAndMask[] = [
    { scores: a, mask: b },
    { scores: b, mask: a },
  ];
  const valid = candidates.filter(
    (c) =>
      shapeEquals(m.env.info(c.scores).type.shape, resultShape) &&
      m.env.info(c.mask).type.dtype === 'f32' &&
      m.env.isWeightFree(c.mask),
  );
  const broadcasting = valid.find((c) => !shapeEquals(m.env.info(c.mask).type.shape, resultShape));
  return broadcasting ?? valid[0];
}

const additiveMask: RewriteRule = {
  // softmax(scores + mask) = softmax(scores, mask)
  name: 'softmax-additive-mask',
  pattern: softmaxOf(op('add', [v('a'), v('b')])),
  check: (m) => splitScoresAndMask(m) !== undefined,
  rewrite: (m, e) => {
    const { scores, mask } = splitScoresAndMask(m)!;
    return emitSoftmax(m, e, scores, mask);
  },
};

// ---- where(c, x, fill) ------------------------------------------------------------------------------

const condition = constant((_, t) => t?.dtype === 'bool', 'cond');
const largeNegative = constant(
  (vals, t) => t?.dtype === 'f32' && vals.length > 0 && vals.every((x) => x <= MASK_EXCLUDED),
  'fill',
);

function tensorOf(m: Match, id: ValueId): Tensor {
  return constTensor(m.env.graph, m.env.producer(id) as Node);
}

/** M = where(c, 0, fill) (kept where c is true) or where(c, fill, 0) (kept where c is false). */
function maskTensor(m: Match, keptWhenTrue: boolean): Tensor {
  const c = tensorOf(m, cap(m, 'cond'));
  const fill = tensorOf(m, cap(m, 'fill'));
  const zero = fromNumbers('f32', [], [0]);
  return evalOp('where', keptWhenTrue ? [c, zero, fill] : [c, fill, zero], {}, [])[0]!;
}

/** Every row along the softmax axis of the (broadcast) mask has a kept (zero) position. */
function everyRowKeepsOne(mask: Tensor, resultRank: number, softmaxAxis: number): boolean {
  const values = toNumbers(mask);
  const axis = softmaxAxis - (resultRank - mask.shape.length);
  if (axis < 0 || mask.shape[axis] === 1) return values.every((x) => x === 0);
  const { outer, len, inner } = axisView(mask.shape, axis);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let kept = false;
      for (let k = 0; k < len && !kept; k++) kept = values[o * len * inner + k * inner + i] === 0;
      if (!kept) return false;
    }
  return true;
}

function whereMask(name: string, keptWhenTrue: boolean): RewriteRule {
  const where = keptWhenTrue
    ? op('where', [condition, v('x'), largeNegative])
    : op('where', [condition, largeNegative, v('x')]);
  return {
    name,
    pattern: softmaxOf(where),
    sameTypeAs: 'x',
    check: (m) => {
      const rank = m.env.info(m.root.outputs[0]!).type.shape.length;
      const axis = normalizeAxis(intAttr(m.root.attrs, 'axis'), rank);
      return everyRowKeepsOne(maskTensor(m, keptWhenTrue), rank, axis);
    },
    rewrite: (m, e) => emitSoftmax(m, e, cap(m, 'x'), e.addConst(maskTensor(m, keptWhenTrue))),
  };
}

export const SOFTMAX_RULES: readonly RewriteRule[] = [
  additiveMask,
  // softmax(where(c, x, fill)) = softmax(x, where(c, 0, fill))   (see the file comment)
  whereMask('softmax-where-mask', true),
  // softmax(where(c, fill, x)) = softmax(x, where(c, fill, 0))
  whereMask('softmax-where-mask-inverted', false),
];
