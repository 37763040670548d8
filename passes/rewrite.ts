/**
 * The rewrite engine behind the pattern tables (passes/fuse*.ts, the identity
 * rules of passes/fold-constants.ts): find matches, check them, and rebuild the
 * graph with each matched tree replaced.
 *
 * Algorithm, per sweep:
 *   1. Walk the nodes from last to first (so the largest pattern, rooted nearest
 *      the outputs, is found before the smaller ones inside it), and try the
 *      rules in table order at each node not yet covered by a chosen match.
 *   2. A match is taken only when it is closed: every covered node other than
 *      the root has all its users inside the match and is not a graph output.
 *      Rewriting it then never duplicates work or changes another value.
 *   3. Rebuild: each chosen root is replaced by the nodes its rule emits (built
 *      through GraphBuilder, so they are type-checked); the replacement takes
 *      the root's value id, so nothing downstream changes. A rule may instead
 *      return an existing value; its uses are then redirected to it.
 *   4. Drop what became dead (the covered nodes, constants no longer used).
 * Sweeps repeat until one finds nothing (a rewrite can enable another).
 */
import type { NodeOptions } from '../ir/builder.ts';
import { GraphBuilder, resultVisibility } from '../ir/builder.ts';
import { MarillError } from '../ir/errors.ts';
import type { Attrs, Graph, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import { removeDeadNodes, withNodes } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { normalizeAttrs } from '../ir/ops.ts';
import type { Tensor } from '../ir/tensor.ts';
import { formatType, placementOf, shapeEquals } from '../ir/types.ts';
import type { TensorType, Visibility } from '../ir/types.ts';
import type { Pattern } from './patterns.ts';
import { MatchEnv, matchPattern } from './patterns.ts';

export interface Match {
  readonly root: Node;
  readonly captures: ReadonlyMap<string, ValueId>;
  /** Op nodes covered, root first. */
  readonly nodes: readonly Node[];
  readonly env: MatchEnv;
}

/** A captured value; a rule asking for a name its pattern does not bind is a bug. */
export function cap(m: Match, name: string): ValueId {
  const id = m.captures.get(name);
  if (id === undefined) throw new MarillError(`rewrite rule bug: nothing captured as '${name}'`);
  return id;
}

export function maybeCap(m: Match, name: string): ValueId | undefined {
  return m.captures.get(name);
}

export interface RewriteRule {
  readonly name: string;
  readonly pattern: Pattern;
  /** The replacement has the type of this capture: matches where the root's type differs are skipped. */
  readonly sameTypeAs?: string;
  /** Conditions the pattern cannot express (shapes, values); false skips the match. */
  readonly check?: (m: Match) => boolean;
  /** Emits the replacement; returns one value per root result. */
  readonly rewrite: (m: Match, e: Emitter) => readonly ValueId[];
}

function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapeEquals(a.shape, b.shape);
}

// ---- emitting replacements ----------------------------------------------------------------------

/**
 * Where a rule builds its replacement: a scratch GraphBuilder that imports the
 * existing values a new node reads on first use, so every new node is typed by
 * the op table like any other.
 */
export class Emitter {
  private readonly b: GraphBuilder;
  private readonly imported = new Set<ValueId>();

  constructor(
    private readonly env: MatchEnv,
    taken: Iterable<ValueId>,
    private readonly resolve: (id: ValueId) => ValueId,
    private readonly root: Node,
  ) {
    this.b = new GraphBuilder(env.graph.name, taken);
  }

  /** The type of an existing or new value. */
  info(id: ValueId): ValueInfo {
    const r = this.resolve(id);
    return this.b.has(r) ? this.b.info(r) : this.env.info(r);
  }

  add1(op: OpName, inputs: readonly ValueId[], attrs: Attrs = {}): ValueId {
    const args = inputs.map((i) => this.use(i));
    const visibility = resultVisibility(
      op,
      args.map((a) => this.b.info(a).visibility),
      normalizeAttrs(op, attrs),
    );
    return this.b.add1(op, args, attrs, this.options(visibility));
  }

  addConst(tensor: Tensor): ValueId {
    return this.b.addConst(tensor, this.options('public'));
  }

  /**
   * New nodes keep the root's origin; in a placed graph (cleanup after
   * relocation) they are placed where their visibility says.
   */
  private options(visibility: Visibility): NodeOptions {
    const o: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {};
    if (this.root.origin !== undefined) o.origin = this.root.origin;
    if (this.root.placement !== undefined) o.placement = placementOf(visibility);
    return o;
  }

  /** The new nodes and the values they define. */
  built(): { nodes: readonly Node[]; values: readonly ValueInfo[] } {
    const g = this.b.build();
    const values = [...g.values.values()].filter((v) => !this.imported.has(v.id));
    return { nodes: g.nodes, values };
  }

  /** Whether a value was defined here (as opposed to an existing value of the graph). */
  isNew(id: ValueId): boolean {
    return this.b.has(id) && !this.imported.has(id);
  }

  private use(id: ValueId): ValueId {
    const r = this.resolve(id);
    if (!this.b.has(r)) {
      const v = this.env.info(r);
      this.b.addInput(r, v.type, v.visibility);
      this.imported.add(r);
    }
    return r;
  }
}

// ---- finding matches ----------------------------------------------------------------------------

interface Chosen {
  readonly rule: RewriteRule;
  readonly match: Match;
}

function isClosed(nodes: readonly Node[], root: Node, env: MatchEnv): boolean {
  const inside = new Set(nodes);
  for (const n of nodes) {
    if (n === root) continue;
    for (const o of n.outputs) {
      if (env.isGraphOutput(o)) return false;
      if (env.usersOf(o).some((u) => !inside.has(u))) return false;
    }
  }
  return true;
}

function firstMatch(
  rule: RewriteRule,
  root: Node,
  env: MatchEnv,
  covered: ReadonlySet<Node>,
): Match | undefined {
  for (const st of matchPattern(rule.pattern, root.outputs[0]!, env)) {
    if (st.nodes[0] !== root) continue; // a pattern must consume its root node
    if (st.nodes.some((n) => covered.has(n))) continue;
    if (!isClosed(st.nodes, root, env)) continue;
    const m: Match = { root, captures: st.captures, nodes: st.nodes, env };
    if (
      rule.sameTypeAs !== undefined &&
      !sameType(env.info(root.outputs[0]!).type, env.info(cap(m, rule.sameTypeAs)).type)
    )
      continue;
    if (rule.check && !rule.check(m)) continue;
    return m;
  }
  return undefined;
}

function findMatches(g: Graph, rules: readonly RewriteRule[]): Chosen[] {
  const env = new MatchEnv(g);
  const covered = new Set<Node>();
  const chosen: Chosen[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const root = g.nodes[i]!;
    if (covered.has(root) || root.outputs.length !== 1) continue;
    for (const rule of rules) {
      const match = firstMatch(rule, root, env, covered);
      if (!match) continue;
      chosen.push({ rule, match });
      for (const n of match.nodes) covered.add(n);
      break;
    }
  }
  return chosen;
}

// ---- rebuilding ---------------------------------------------------------------------------------

function renameIn(nodes: readonly Node[], rename: ReadonlyMap<ValueId, ValueId>): Node[] {
  const r = (id: ValueId) => rename.get(id) ?? id;
  return nodes.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
}

function checkReplacement(rule: RewriteRule, root: Node, old: ValueInfo, now: ValueInfo): void {
  if (!sameType(old.type, now.type) || old.visibility !== now.visibility)
    throw new MarillError(
      `rewrite '${rule.name}' replaced %${root.outputs[0]} (${old.visibility} ${formatType(old.type)}) ` +
        `with a ${now.visibility} ${formatType(now.type)} value`,
    );
}

function rebuild(g: Graph, chosen: readonly Chosen[]): Graph {
  const byRoot = new Map(chosen.map((c) => [c.match.root, c]));
  const subst = new Map<ValueId, ValueId>();
  const resolve = (id: ValueId) => subst.get(id) ?? id;
  const taken = new Set(g.values.keys());
  const nodes: Node[] = [];
  const extra: ValueInfo[] = [];
  for (const n of g.nodes) {
    const c = byRoot.get(n);
    if (!c) {
      nodes.push(n.inputs.some((i) => subst.has(i)) ? { ...n, inputs: n.inputs.map(resolve) } : n);
      continue;
    }
    const e = new Emitter(c.match.env, taken, resolve, n);
    const outs = c.rule.rewrite(c.match, e);
    const rename = new Map<ValueId, ValueId>();
    n.outputs.forEach((rootOut, k) => {
      const out = outs[k];
      if (out === undefined)
        throw new MarillError(`rewrite '${c.rule.name}' returned no value for result ${k + 1}`);
      checkReplacement(c.rule, n, g.values.get(rootOut)!, e.info(out));
      if (e.isNew(out) && !rename.has(out)) rename.set(out, rootOut);
      else subst.set(rootOut, resolve(out));
    });
    const built = e.built();
    nodes.push(...renameIn(built.nodes, rename));
    for (const v of built.values) {
      taken.add(v.id);
      const id = rename.get(v.id) ?? v.id;
      extra.push({ ...v, id });
    }
  }
  const outputs = g.outputs.map((o) => ({ ...o, value: resolve(o.value) }));
  return removeDeadNodes(withNodes({ ...g, outputs }, nodes, extra));
}

export interface ApplyOptions {
  /** Upper bound on sweeps (each applies every match it finds); default 50. */
  readonly maxSweeps?: number;
  /** Receives the rule name of each rewrite applied (for counts in tests and reports). */
  readonly onRewrite?: (rule: string, root: Node) => void;
}

/** Applies a rule table until no rule matches (see the file comment). */
export function applyRules(g: Graph, rules: readonly RewriteRule[], opts: ApplyOptions = {}): Graph {
  let cur = g;
  for (let sweep = 0; sweep < (opts.maxSweeps ?? 50); sweep++) {
    const chosen = findMatches(cur, rules);
    if (chosen.length === 0) return cur;
    for (const c of chosen) opts.onRewrite?.(c.rule.name, c.match.root);
    cur = rebuild(cur, chosen);
  }
  return cur;
}
