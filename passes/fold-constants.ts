/**
 * Pass `fold-constants`: constant folding and algebraic identities.
 *
 * Preconditions: none (any well-typed graph; before or after placement).
 * Algorithm:
 *   1. Walk the nodes in order. A computing node (not a source, not share/reveal,
 *      whose visibility move must stay explicit) all of whose operands are
 *      `const` nodes is evaluated with the interpreter's `evalOp` (the one
 *      implementation of each op's math) and each result becomes a `const` with
 *      the same value id, visibility, placement and origin. Folded results feed
 *      later folds in the same walk. Weights are never folded: they are learned
 *      parameters whose provenance (public or private) is decided later.
 *   2. Size rule: a node is folded only when its results hold at most
 *      FOLD_LIMIT elements, or no more elements than its constant operands
 *      together. Constants are printed by value in the text IR, so folding must
 *      not blow a 4-element shape constant up into a [12, 128, 128] tensor; a
 *      fold that only rearranges existing constant data never grows it.
 *   3. Identities (a rule table; each returns an existing value, so no new node):
 *      a cast to its own dtype, a reshape/expand to its own shape, an identity
 *      transpose, a full unit-step slice, a one-operand concat, x + 0, x - 0,
 *      x * 1, x / 1 (when the result has x's type, i.e. the constant does not
 *      broadcast x to a larger shape), and reshape(reshape(x)) -> reshape(x).
 *   4. Nodes made dead (constants only a folded node read, the identity ops)
 *      are dropped, so the pass's output has no dead code of its own making.
 */
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { removeDeadNodes } from '../ir/graph.ts';
import { evalOp } from '../ir/interpret.ts';
import { hasGroup, intsAttr, stringAttr } from '../ir/ops.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers } from '../ir/tensor.ts';
import { numel, shapeEquals } from '../ir/types.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';
import { constant, op, v } from './patterns.ts';
import type { Match, RewriteRule } from './rewrite.ts';
import { applyRules, cap } from './rewrite.ts';

/** Results up to this many elements are always folded (see rule 2). */
export const FOLD_LIMIT = 4096;

/** The tensor a `const` node holds (built from its printed values when parsed from text). */
export function constTensor(g: Graph, n: Node): Tensor {
  if (n.tensor) return n.tensor;
  const t = g.values.get(n.outputs[0]!)!.type;
  return fromNumbers(t.dtype, t.shape, n.attrs['value'] as readonly number[]);
}

function isFoldable(n: Node): boolean {
  return !hasGroup(n.op, 'source') && !hasGroup(n.op, 'boundary');
}

function constNode(template: Node, id: ValueId, t: Tensor): Node {
  const folded: { -readonly [K in keyof Node]: Node[K] } = {
    op: 'const',
    inputs: [],
    outputs: [id],
    attrs: { value: Array.from(t.data as ArrayLike<number | bigint>, Number) },
    tensor: t,
  };
  if (template.placement !== undefined) folded.placement = template.placement;
  if (template.origin !== undefined) folded.origin = template.origin;
  return folded;
}

/** Rules 1 and 2: every foldable node over constants becomes constants. */
export function foldConstantNodes(g: Graph): Graph {
  const known = new Map<ValueId, Tensor>();
  let changed = false;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (n.op === 'const') {
      known.set(n.outputs[0]!, constTensor(g, n));
      nodes.push(n);
      continue;
    }
    const args = n.inputs.map((i) => known.get(i));
    const inputElements = args.reduce((s, t) => s + (t ? numel(t.shape) : 0), 0);
    const types = n.outputs.map((o) => g.values.get(o)!.type);
    const outputElements = types.reduce((s, t) => s + numel(t.shape), 0);
    const small = outputElements <= FOLD_LIMIT || outputElements <= inputElements;
    if (!isFoldable(n) || n.inputs.length === 0 || !args.every((t) => t !== undefined) || !small) {
      nodes.push(n);
      continue;
    }
    let results: Tensor[];
    try {
      results = evalOp(n.op, args as Tensor[], n.attrs, types);
    } catch (e) {
      const what = `%${n.outputs.join(', %')} = ${n.op}${n.origin !== undefined ? ` (${n.origin})` : ''}`;
      if (e instanceof MarillError) throw new MarillError(`constant folding failed: ${e.message}`, { what });
      throw e;
    }
    n.outputs.forEach((o, k) => {
      known.set(o, results[k]!);
      nodes.push(constNode(n, o, results[k]!));
    });
    changed = true;
  }
  return changed ? { ...g, nodes } : g;
}

// ---- identities -----------------------------------------------------------------------------------

const allEqual = (c: number) => constant((vals) => vals.length > 0 && vals.every((x) => x === c));

/** The rewrite of every identity: the result is the operand itself. */
const keepX = (m: Match) => [cap(m, 'x')];

function inputShape(m: Match): readonly number[] {
  return m.env.info(cap(m, 'x')).type.shape;
}

export const IDENTITY_RULES: readonly RewriteRule[] = [
  {
    // cast(x : T) to T = x
    name: 'cast-to-own-dtype',
    pattern: op('cast', [v('x')], {
      test: (n, env) => stringAttr(n.attrs, 'to') === env.info(n.inputs[0]!).type.dtype,
    }),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    // reshape(x) or expand(x) to x's own shape = x
    name: 'reshape-to-own-shape',
    pattern: op(['reshape', 'expand'], [v('x')]),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    // transpose(x, [0, 1, ..., r-1]) = x
    name: 'identity-transpose',
    pattern: op('transpose', [v('x')], { test: (n) => intsAttr(n.attrs, 'perm').every((p, i) => p === i) }),
    rewrite: keepX,
  },
  {
    // A unit-step slice whose result has the input's shape starts at 0 and ends at the end: x.
    name: 'full-slice',
    pattern: op('slice', [v('x')], { test: (n) => intsAttr(n.attrs, 'steps').every((s) => s === 1) }),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    // concat(x) = x
    name: 'single-concat',
    pattern: op('concat', [v('x')]),
    rewrite: keepX,
  },
  {
    // x + 0 = 0 + x = x,  x - 0 = x  (only when the zeros do not broadcast x larger)
    name: 'add-zero',
    pattern: op('add', [v('x'), allEqual(0)], { commutative: true }),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    name: 'sub-zero',
    pattern: op('sub', [v('x'), allEqual(0)]),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    // x * 1 = 1 * x = x,  x / 1 = x
    name: 'mul-one',
    pattern: op('mul', [v('x'), allEqual(1)], { commutative: true }),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    name: 'div-one',
    pattern: op('div', [v('x'), allEqual(1)]),
    sameTypeAs: 'x',
    rewrite: keepX,
  },
  {
    // reshape(reshape(x, s1), s2) = reshape(x, s2): a reshape only relabels the row-major order.
    name: 'reshape-chain',
    pattern: op('reshape', [op('reshape', [v('x')])]),
    rewrite: (m, e) => {
      const shape = m.env.info(m.root.outputs[0]!).type.shape;
      return shapeEquals(inputShape(m), shape)
        ? keepX(m)
        : [e.add1('reshape', [cap(m, 'x')], { shape: [...shape] })];
    },
  },
];

export function foldConstants(g: Graph): Graph {
  const folded = foldConstantNodes(g);
  const simplified = applyRules(folded, IDENTITY_RULES);
  return simplified === g ? g : removeDeadNodes(simplified);
}

export const foldConstantsPass: Pass = {
  name: 'fold-constants',
  summary:
    'evaluate ops over constants (evalOp), drop identity ops (x*1, same-type cast, same-shape reshape, ...)',
  run: (g: Graph, _ctx: PassContext) => foldConstants(g),
};
