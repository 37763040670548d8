/**
 * Pattern matching over the IR, the matching half of the rewrite tables in
 * passes/fuse*.ts and passes/fold-constants.ts (passes/rewrite.ts applies them).
 *
 * A pattern describes a tree of ops rooted at one value:
 *   v('x')                any value, captured as x; a second v('x') must be the same value
 *   op('erf', [p])        a node of that op whose operands match p, in order
 *   op('add', [p, q], { commutative: true })   either operand order
 *   constant(test, 'c')   a `const` node whose values pass `test`
 *   scalar(0.5)           a one-element constant equal to 0.5 (within 1e-6, relative above 1)
 *   oneOf(p, q)           any of the alternatives
 *   product([p, q, r])    a tree of `mul` nodes (and `div` by a one-element constant, read as
 *                         a multiplication by its reciprocal) whose leaves, in some order, match
 *                         p, q, r: one pattern covers every association order exporters emit
 *                         (x*0.5*y, (x*y)*0.5, 0.5*(x*y), x*y/2, ...).
 *
 * Matching is a backtracking search written with generators: every way the
 * pattern can match is produced lazily, and the caller takes the first one that
 * passes its checks. Patterns are small, so the search stays cheap.
 *
 * A match records the op nodes it covered (`nodes`, root included). Constants
 * are never recorded: they are shared, and dead-code elimination drops the
 * ones a rewrite leaves unused.
 */
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import { producers, users } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import type { TensorType } from '../ir/types.ts';

// ---- the graph as the matcher sees it --------------------------------------------------------

/** Read-only lookups over one graph, computed once per rewrite sweep. */
export class MatchEnv {
  private readonly defs: Map<ValueId, Node>;
  private readonly uses: Map<ValueId, Node[]>;
  private readonly outputs: Set<ValueId>;
  private weightFree: Set<ValueId> | undefined;

  constructor(readonly graph: Graph) {
    this.defs = producers(graph);
    this.uses = users(graph);
    this.outputs = new Set(graph.outputs.map((o) => o.value));
  }

  producer(id: ValueId): Node | undefined {
    return this.defs.get(id);
  }

  info(id: ValueId): ValueInfo {
    const v = this.graph.values.get(id);
    if (!v) throw new MarillError(`pattern matcher: unknown value %${id}`, { what: this.graph.name });
    return v;
  }

  usersOf(id: ValueId): readonly Node[] {
    return this.uses.get(id) ?? [];
  }

  isGraphOutput(id: ValueId): boolean {
    return this.outputs.has(id);
  }

  /** The values of a `const` node's result (row-major), or undefined for anything else. */
  constValues(id: ValueId): readonly number[] | undefined {
    const n = this.defs.get(id);
    if (n?.op !== 'const') return undefined;
    return n.attrs['value'] as readonly number[];
  }

  /** The single value of a one-element constant, or undefined. */
  scalarValue(id: ValueId): number | undefined {
    const values = this.constValues(id);
    return values !== undefined && values.length === 1 ? values[0] : undefined;
  }

  /**
   * Whether a value is computed without any weight: only from graph inputs and
   * constants. Attention masks are like this; attention scores are not.
   * One forward walk over the (topologically ordered) nodes, on first use.
   */
  isWeightFree(id: ValueId): boolean {
    if (!this.weightFree) {
      const free = new Set<ValueId>(this.graph.inputs);
      for (const n of this.graph.nodes)
        if (n.op !== 'weight' && n.inputs.every((i) => free.has(i))) for (const o of n.outputs) free.add(o);
      this.weightFree = free;
    }
    return this.weightFree.has(id);
  }
}

// ---- patterns ---------------------------------------------------------------------------------

export type Pattern = AnyPattern | OpPattern | ConstPattern | AltPattern | ProductPattern;

interface AnyPattern {
  readonly kind: 'any';
  readonly name?: string;
}

interface OpPattern {
  readonly kind: 'op';
  readonly ops: readonly OpName[];
  readonly args: readonly Pattern[];
  readonly commutative: boolean;
  readonly name?: string;
  readonly test?: (n: Node, env: MatchEnv) => boolean;
}

interface ConstPattern {
  readonly kind: 'const';
  readonly test: (values: readonly number[], type: TensorType | undefined) => boolean;
  readonly name?: string;
}

interface AltPattern {
  readonly kind: 'alt';
  readonly options: readonly Pattern[];
}

interface ProductPattern {
  readonly kind: 'product';
  readonly factors: readonly Pattern[];
}

/** Any value, captured under `name` when given. */
export function v(name?: string): Pattern {
  return name === undefined ? { kind: 'any' } : { kind: 'any', name };
}

export interface OpPatternOptions {
  /** Two-operand op whose operands may come in either order. */
  readonly commutative?: boolean;
  /** Capture the node's (first) result under this name. */
  readonly name?: string;
  /** Extra condition on the node (e.g. its attributes). */
  readonly test?: (n: Node, env: MatchEnv) => boolean;
}

/** A node of one of the given ops whose operands match `args`. */
export function op(
  ops: OpName | readonly OpName[],
  args: readonly Pattern[],
  opts: OpPatternOptions = {},
): Pattern {
  return {
    kind: 'op',
    ops: typeof ops === 'string' ? [ops] : ops,
    args,
    commutative: opts.commutative ?? false,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.test !== undefined ? { test: opts.test } : {}),
  };
}

/** A `const` node whose values pass `test` (the type is undefined for a divisor's reciprocal). */
export function constant(test: ConstPattern['test'], name?: string): Pattern {
  return name === undefined ? { kind: 'const', test } : { kind: 'const', test, name };
}

/** |a - b| within `tol`, relative to |b| when |b| > 1. */
export function near(a: number, b: number, tol = 1e-6): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

/** A one-element constant equal to `value` (see `near`). */
export function scalar(value: number, tol = 1e-6): Pattern {
  return constant((vals) => vals.length === 1 && near(vals[0]!, value, tol));
}

/** A one-element constant, captured under `name`. */
export function anyScalar(name: string): Pattern {
  return constant((vals) => vals.length === 1, name);
}

export function oneOf(...options: readonly Pattern[]): Pattern {
  return { kind: 'alt', options };
}

/** A product of exactly these factors, in any order and association (see the file comment). */
export function product(factors: readonly Pattern[]): Pattern {
  return { kind: 'product', factors };
}

// ---- matching ---------------------------------------------------------------------------------

/** What a pattern is matched against: a graph value, or the reciprocal of a constant divisor. */
type Subject = { readonly value: ValueId } | { readonly scalar: number };

export interface MatchState {
  readonly captures: ReadonlyMap<string, ValueId>;
  /** Op nodes the match covers (root included), in the order they were reached. */
  readonly nodes: readonly Node[];
}

const EMPTY: MatchState = { captures: new Map(), nodes: [] };

function bind(st: MatchState, name: string | undefined, id: ValueId): MatchState | undefined {
  if (name === undefined) return st;
  const bound = st.captures.get(name);
  if (bound !== undefined) return bound === id ? st : undefined;
  const captures = new Map(st.captures);
  captures.set(name, id);
  return { captures, nodes: st.nodes };
}

function cover(st: MatchState, nodes: readonly Node[]): MatchState {
  const fresh = nodes.filter((n) => !st.nodes.includes(n));
  return fresh.length === 0 ? st : { captures: st.captures, nodes: [...st.nodes, ...fresh] };
}

/** Every way `p` matches the value `id`, as states extending `st`. */
export function* matchPattern(
  p: Pattern,
  id: ValueId,
  env: MatchEnv,
  st: MatchState = EMPTY,
): Generator<MatchState> {
  yield* matchSubject(p, { value: id }, env, st);
}

function* matchSubject(p: Pattern, s: Subject, env: MatchEnv, st: MatchState): Generator<MatchState> {
  switch (p.kind) {
    case 'any': {
      if (!('value' in s)) return;
      const next = bind(st, p.name, s.value);
      if (next) yield next;
      return;
    }
    case 'const':
      yield* matchConst(p, s, env, st);
      return;
    case 'alt':
      for (const option of p.options) yield* matchSubject(option, s, env, st);
      return;
    case 'op':
      if ('value' in s) yield* matchOp(p, s.value, env, st);
      return;
    case 'product':
      if ('value' in s) yield* matchProduct(p, s.value, env, st);
      return;
  }
}

function* matchConst(p: ConstPattern, s: Subject, env: MatchEnv, st: MatchState): Generator<MatchState> {
  if ('scalar' in s) {
    // A divisor's reciprocal exists only inside the product; it cannot be captured.
    if (p.name === undefined && p.test([s.scalar], undefined)) yield st;
    return;
  }
  const values = env.constValues(s.value);
  if (values === undefined || !p.test(values, env.info(s.value).type)) return;
  const next = bind(st, p.name, s.value);
  if (next) yield next;
}

function* matchOp(p: OpPattern, id: ValueId, env: MatchEnv, st: MatchState): Generator<MatchState> {
  const n = env.producer(id);
  if (!n || !p.ops.includes(n.op) || n.inputs.length !== p.args.length) return;
  if (p.test && !p.test(n, env)) return;
  const bound = bind(st, p.name, id);
  if (!bound) return;
  const start = cover(bound, [n]);
  const orders = p.commutative && p.args.length === 2 ? [n.inputs, [n.inputs[1]!, n.inputs[0]!]] : [n.inputs];
  for (const operands of orders)
    yield* matchAll(
      p.args,
      operands.map((value) => ({ value })),
      env,
      start,
    );
}

function* matchAll(
  ps: readonly Pattern[],
  subjects: readonly Subject[],
  env: MatchEnv,
  st: MatchState,
): Generator<MatchState> {
  if (ps.length === 0) {
    yield st;
    return;
  }
  for (const next of matchSubject(ps[0]!, subjects[0]!, env, st))
    yield* matchAll(ps.slice(1), subjects.slice(1), env, next);
}

function* matchProduct(p: ProductPattern, id: ValueId, env: MatchEnv, st: MatchState): Generator<MatchState> {
  const want = p.factors.length;
  for (const f of factorings(id, want, env, true)) {
    if (f.factors.length !== want) continue;
    const covered = cover(st, f.nodes);
    for (const order of permutations(want))
      yield* matchAll(
        p.factors,
        order.map((i) => f.factors[i]!),
        env,
        covered,
      );
  }
}

/** One way to read a value as a product: its factors and the mul/div nodes expanded. */
interface Factoring {
  readonly factors: readonly Subject[];
  readonly nodes: readonly Node[];
}

/**
 * Every way to read `id` as a product of at most `max` factors. Each `mul` on
 * the way may be expanded or kept as a single factor (its result might be the
 * `x` a pattern wants); `div(a, c)` with a one-element non-zero constant c
 * expands to a's factors times 1/c. The root must be expanded.
 */
function factorings(id: ValueId, max: number, env: MatchEnv, mustExpand: boolean): Factoring[] {
  const out: Factoring[] = mustExpand ? [] : [{ factors: [{ value: id }], nodes: [] }];
  if (max < 2) return out;
  const n = env.producer(id);
  if (n?.op === 'mul') {
    for (const a of factorings(n.inputs[0]!, max - 1, env, false))
      for (const b of factorings(n.inputs[1]!, max - a.factors.length, env, false))
        out.push({ factors: [...a.factors, ...b.factors], nodes: [n, ...a.nodes, ...b.nodes] });
  } else if (n?.op === 'div') {
    const divisor = env.scalarValue(n.inputs[1]!);
    if (divisor !== undefined && divisor !== 0)
      for (const a of factorings(n.inputs[0]!, max - 1, env, false))
        out.push({ factors: [...a.factors, { scalar: 1 / divisor }], nodes: [n, ...a.nodes] });
  }
  return out;
}

const permutationCache = new Map<number, number[][]>();

/** All orderings of 0..n-1 (n is a pattern's factor count: small). */
function permutations(n: number): number[][] {
  const cached = permutationCache.get(n);
  if (cached) return cached;
  const out: number[][] = [];
  const build = (prefix: number[]) => {
    if (prefix.length === n) {
      out.push(prefix);
      return;
    }
    for (let i = 0; i < n; i++) if (!prefix.includes(i)) build([...prefix, i]);
  };
  build([]);
  permutationCache.set(n, out);
  return out;
}
