/**
 * Parser for the `.mir` text form (the printer's inverse, see ir/print.ts).
 *
 * The grammar (ir/mir-grammar.ts) gives a syntax tree of positioned tokens;
 * this module gives it meaning through a GraphBuilder, so every node is
 * type-checked by the op table as it is read. Declared result types and
 * visibilities must be the ones the op derives (weights, consts and inputs
 * declare theirs), attributes left out take their defaults, and every error
 * (lexical, syntax, unknown op or value, bad attribute, wrong type,
 * duplicate definition, misplaced node) is a MarillError at a line:column.
 */
import type {
  Tok,
  AttrSyntax,
  GraphSyntax,
  ListSyntax,
  NodeSyntax,
  TypeSyntax,
  VisibleTypeSyntax,
} from './mir-grammar.ts';
import { parseSyntax } from './mir-grammar.ts';
import { decodeProtocol, decodeSigilName, decodeString } from './mir-lexer.ts';
import { formatValueName, orList, parseI64, parseNumberLiteral } from './mir-text.ts';
import { GraphBuilder, resultVisibility } from './builder.ts';
import { MarillError } from './errors.ts';
import type { AttrValue, Attrs, Graph, GraphOutput, ValueId } from './graph.ts';
import type { AttrSpec, OpDef, OpName } from './ops.ts';
import { OPS, isOpName, normalizeAttrs } from './ops.ts';
import type { Tensor } from './tensor.ts';
import { fromNumbers, makeTensor } from './tensor.ts';
import type { DType, Placement, TensorType, Visibility } from './types.ts';
import { DTYPES, PLACEMENTS, VISIBILITIES, formatType, numel, shapeEquals } from './types.ts';
import type { PlacedNode } from './verify.ts';
import {
  WEIGHT_HASH,
  checkBoundaryOperand,
  checkConstValues,
  checkPlacement,
  checkProtocol,
  verifyGraph,
} from './verify.ts';

/** An output as the header declares it. */
interface OutputDeclaration {
  readonly name: string;
  readonly type: TensorType;
  readonly state?: ValueId;
}

/** Parses a `.mir` text to a verified Graph; `file` names the text in error locations. */
export function parseGraph(text: string, file?: string): Graph {
  const syntax = parseSyntax(text, file);
  const g = new Elaborator(syntax, file).graph();
  try {
    verifyGraph(g);
  } catch (e) {
    throw e instanceof MarillError && file !== undefined ? e.inFile(file) : e;
  }
  return g;
}

/** Builds the graph of a syntax tree, one header item and node line at a time. */
class Elaborator {
  private readonly builder: GraphBuilder;
  /** Where each node result is defined, to tell "defined later" from "never defined". */
  private readonly definitions = new Map<ValueId, Tok>();

  constructor(
    private readonly syntax: GraphSyntax,
    private readonly file: string | undefined,
  ) {
    for (const n of syntax.nodes)
      for (const r of n.results) {
        const id = decodeSigilName(r.image);
        if (!this.definitions.has(id)) this.definitions.set(id, r);
      }
    this.builder = new GraphBuilder(decodeSigilName(syntax.name.image), this.definitions.keys());
  }

  graph(): Graph {
    for (const input of this.syntax.inputs) {
      const id = this.newValue(input.name);
      const { visibility, type } = this.visibleType(input.type);
      this.builder.addInput(id, type, visibility);
    }
    const declaredOutputs = this.outputDeclarations();
    for (const n of this.syntax.nodes) this.node(n);
    this.builder.setOutputs(this.returned(declaredOutputs));
    return this.builder.build();
  }

  // ---- errors ------------------------------------------------------------------------------------

  private error(t: Tok, message: string): MarillError {
    return new MarillError(message, { file: this.file, line: t.line, column: t.column });
  }

  /** Runs `step`; a MarillError it raises without a position gets `t`'s. */
  private at<T>(t: Tok, step: () => T): T {
    try {
      return step();
    } catch (e) {
      if (e instanceof MarillError && e.location.line === undefined) throw this.error(t, e.message);
      throw e;
    }
  }

  // ---- names and types ---------------------------------------------------------------------------

  private newValue(t: Tok): ValueId {
    const id = decodeSigilName(t.image);
    if (this.builder.has(id)) throw this.error(t, `${formatValueName(id)} is already defined`);
    return id;
  }

  private usedValue(t: Tok): ValueId {
    const id = decodeSigilName(t.image);
    if (this.builder.has(id)) return id;
    const later = this.definitions.get(id);
    if (later !== undefined)
      throw this.error(t, `${formatValueName(id)} is used before its definition at line ${later.line}`);
    throw this.error(t, `unknown value ${formatValueName(id)}`);
  }

  private tensorType(s: TypeSyntax): TensorType {
    const dtype = s.dtype.image;
    if (!(DTYPES as readonly string[]).includes(dtype))
      throw this.error(s.dtype, `unknown element type '${dtype}' (expected ${orList(DTYPES)})`);
    const shape = s.dims.map((d) => {
      if (!/^\d+$/.test(d.image)) throw this.error(d, `dimension '${d.image}' is not a non-negative integer`);
      return Number(d.image);
    });
    return { dtype: dtype as DType, shape };
  }

  private visibleType(s: VisibleTypeSyntax): { visibility: Visibility; type: TensorType } {
    const v = s.visibility.image;
    if (!(VISIBILITIES as readonly string[]).includes(v))
      throw this.error(s.visibility, `unknown visibility '${v}' (expected ${orList(VISIBILITIES)})`);
    return { visibility: v as Visibility, type: this.tensorType(s) };
  }

  // ---- header and return -------------------------------------------------------------------------

  private outputDeclarations(): OutputDeclaration[] {
    const seen = new Set<string>();
    const carried = new Set<ValueId>();
    return this.syntax.outputs.map((o) => {
      const name = o.name.image.startsWith('"') ? decodeString(o.name.image) : o.name.image;
      if (seen.has(name)) throw this.error(o.name, `output '${name}' is declared twice`);
      seen.add(name);
      const type = this.tensorType(o.type);
      if (o.state === undefined) return { name, type };
      return { name, type, state: this.stateInput(o.state, name, type, carried) };
    });
  }

  /** The graph input a state output names: declared in the header, of the output's element type, named once. */
  private stateInput(t: Tok, output: string, type: TensorType, carried: Set<ValueId>): ValueId {
    const id = decodeSigilName(t.image);
    if (!this.syntax.inputs.some((i) => decodeSigilName(i.name.image) === id))
      throw this.error(
        t,
        `state output '${output}' names ${formatValueName(id)}, which is not a graph input`,
      );
    if (carried.has(id)) throw this.error(t, `state input ${formatValueName(id)} is named by two outputs`);
    carried.add(id);
    const input = this.builder.info(id).type;
    if (input.dtype !== type.dtype)
      throw this.error(
        t,
        `state output '${output}' is ${type.dtype} but the input it becomes, ${formatValueName(id)}, is ${input.dtype}`,
      );
    return id;
  }

  private returned(declared: readonly OutputDeclaration[]): GraphOutput[] {
    const { returned, returnKeyword } = this.syntax;
    if (returned.length !== declared.length)
      throw this.error(
        returnKeyword,
        `return gives ${returned.length} values but the header declares ${declared.length} outputs`,
      );
    return returned.map((t, k) => {
      const value = this.usedValue(t);
      const want = declared[k]!;
      const have = this.builder.info(value).type;
      if (have.dtype !== want.type.dtype || !shapeEquals(have.shape, want.type.shape))
        throw this.error(
          t,
          `output '${want.name}' is declared ${formatType(want.type)} but ${formatValueName(value)} is ${formatType(have)}`,
        );
      return want.state === undefined
        ? { name: want.name, value }
        : { name: want.name, value, state: want.state };
    });
  }

  // ---- nodes -------------------------------------------------------------------------------------

  private node(n: NodeSyntax): void {
    const ids = n.results.map((r, k) => {
      const id = this.newValue(r);
      if (n.results.slice(0, k).some((p) => decodeSigilName(p.image) === id))
        throw this.error(r, `${formatValueName(id)} is named twice`);
      return id;
    });
    const op = n.op.image;
    if (!isOpName(op)) throw this.error(n.op, `unknown op '${op}'`);
    const placed = this.placement(n);
    const tail = n.tail;
    if (op === 'weight') {
      if (tail.kind !== 'weight')
        throw this.error(
          n.op,
          'a weight is written: %w = weight "name" : visibility dtype[shape] #sha256:<hash>',
        );
      this.weight(n, ids, tail.name, tail.type, tail.hash, placed);
    } else if (op === 'const') {
      if (tail.kind !== 'const')
        throw this.error(n.op, 'a const is written: %c = const [values] : visibility dtype[shape]');
      this.constant(n, ids, tail.values, tail.type, placed);
    } else {
      if (tail.kind === 'weight') throw this.error(tail.name, `op '${op}' takes no name string`);
      if (tail.kind === 'const')
        throw this.error(tail.values.open, `op '${op}' takes operands, not a list of values`);
      this.computed(n, op, ids, tail.operands, tail.attrs, tail.types, placed);
    }
  }

  private placement(n: NodeSyntax): { placement?: Placement; protocol?: string } {
    if (n.placement === undefined) return {};
    const name = decodeSigilName(n.placement.image);
    if (!(PLACEMENTS as readonly string[]).includes(name))
      throw this.error(
        n.placement,
        `unknown placement '@${name}' (expected ${orList(PLACEMENTS.map((p) => `@${p}`))})`,
      );
    const placement = name as Placement;
    return n.protocol === undefined
      ? { placement }
      : { placement, protocol: decodeProtocol(n.protocol.image) };
  }

  private checkPlaced(n: NodeSyntax, node: PlacedNode, visibility: Visibility): void {
    if (n.placement !== undefined) this.at(n.placement, () => checkPlacement(node, visibility));
    if (n.protocol !== undefined) this.at(n.protocol, () => checkProtocol(node));
  }

  private single(n: NodeSyntax, ids: readonly ValueId[]): ValueId {
    if (ids.length !== 1) throw this.error(n.results[1]!, `a ${n.op.image} has one result`);
    return ids[0]!;
  }

  private weight(
    n: NodeSyntax,
    ids: readonly ValueId[],
    nameTok: Tok,
    typeSyntax: VisibleTypeSyntax,
    hashTok: Tok,
    placed: { placement?: Placement; protocol?: string },
  ): void {
    const id = this.single(n, ids);
    const { visibility, type } = this.visibleType(typeSyntax);
    const hash = hashTok.image.slice('#sha256:'.length);
    if (!hashTok.image.startsWith('#sha256:') || !WEIGHT_HASH.test(hash))
      throw this.error(hashTok, 'a weight hash is #sha256: followed by 64 lowercase hex digits');
    this.checkPlaced(n, { op: 'weight', attrs: {}, ...placed }, visibility);
    this.builder.addWeight(
      decodeString(nameTok.image),
      visibility,
      { type, hash },
      { outputIds: [id], ...placed },
    );
  }

  private constant(
    n: NodeSyntax,
    ids: readonly ValueId[],
    values: ListSyntax,
    typeSyntax: VisibleTypeSyntax,
    placed: { placement?: Placement; protocol?: string },
  ): void {
    const id = this.single(n, ids);
    const { visibility, type } = this.visibleType(typeSyntax);
    const tensor = this.constTensor(values, type);
    this.checkPlaced(n, { op: 'const', attrs: {}, ...placed }, visibility);
    this.builder.addConst(tensor, { outputIds: [id], visibility, ...placed });
  }

  /** The tensor a const's literal list denotes (i64 read exactly, beyond 2^53). */
  private constTensor(values: ListSyntax, type: TensorType): Tensor {
    if (values.items.length !== numel(type.shape))
      throw this.error(
        values.open,
        `const has ${values.items.length} values but ${formatType(type)} needs ${numel(type.shape)}`,
      );
    if (type.dtype === 'i64') {
      const ints = values.items.map((t) => {
        const v = parseI64(t.image);
        if (v === undefined) throw this.error(t, `'${t.image}' is not an i64 value`);
        return v;
      });
      return makeTensor('i64', type.shape, BigInt64Array.from(ints));
    }
    const numbers = values.items.map((t) => parseNumberLiteral(t.image));
    numbers.forEach((x, k) =>
      this.at(values.items[k]!, () => checkConstValues([x], { dtype: type.dtype, shape: [] })),
    );
    return fromNumbers(type.dtype, type.shape, numbers);
  }

  private computed(
    n: NodeSyntax,
    op: OpName,
    ids: readonly ValueId[],
    operandToks: readonly Tok[],
    attrSyntax: readonly AttrSyntax[],
    typeSyntax: readonly VisibleTypeSyntax[],
    placed: { placement?: Placement; protocol?: string },
  ): void {
    const operands = operandToks.map((t) => this.usedValue(t));
    const attrs = this.at(n.op, () => normalizeAttrs(op, this.attributes(op, attrSyntax)));
    if (typeSyntax.length !== ids.length)
      throw this.error(typeSyntax[0]!.visibility, `${ids.length} results but ${typeSyntax.length} types`);
    this.at(n.op, () => this.builder.add(op, operands, attrs, { outputIds: ids, ...placed }));
    const operandVisibility = operands.map((id) => this.builder.info(id).visibility);
    if (op === 'share' || op === 'reveal')
      this.at(operandToks[0]!, () => checkBoundaryOperand(op, attrs, operandVisibility[0]!));
    const visibility = resultVisibility(op, operandVisibility, attrs);
    typeSyntax.forEach((s, k) => {
      const declared = this.visibleType(s);
      this.at(s.dtype, () => this.builder.expectType(ids[k]!, declared.type));
      if (declared.visibility !== visibility)
        throw this.error(
          s.visibility,
          `${formatValueName(ids[k]!)} is declared ${declared.visibility} but ${op} of its operands gives ${visibility}`,
        );
    });
    this.checkPlaced(n, { op, attrs, ...placed }, visibility);
  }

  /** Attribute values as written, each checked against the op table's spec at its own position. */
  private attributes(op: OpName, syntax: readonly AttrSyntax[]): Attrs {
    const spec: Readonly<Record<string, AttrSpec>> = (OPS[op] as OpDef).attrs;
    const attrs: Record<string, AttrValue> = {};
    for (const a of syntax) {
      const key = a.key.image;
      if (key in attrs) throw this.error(a.key, `attribute '${key}' is given twice`);
      const s = spec[key];
      if (s === undefined) {
        const known = Object.keys(spec);
        const hint = known.length === 0 ? 'it has none' : `it has ${orList(known.map((k) => `'${k}'`))}`;
        throw this.error(a.key, `op '${op}' has no attribute '${key}' (${hint})`);
      }
      attrs[key] = this.attributeValue(op, key, s, a.value);
    }
    return attrs;
  }

  private attributeValue(op: OpName, key: string, spec: AttrSpec, value: Tok | ListSyntax): AttrValue {
    const where = 'open' in value ? value.open : value;
    const bad = (what: string) => this.error(where, `attribute '${key}' of ${op} must be ${what}`);
    if (spec.kind === 'ints' || spec.kind === 'floats') {
      if (!('open' in value)) throw bad(spec.kind === 'ints' ? 'a list of integers' : 'a list of numbers');
      return value.items.map((t) => {
        const x = parseNumberLiteral(t.image);
        if (spec.kind === 'ints' && !Number.isInteger(x))
          throw this.error(t, `'${t.image}' is not an integer`);
        return x;
      });
    }
    if ('open' in value) throw bad(spec.kind === 'string' ? 'a string' : 'a single number');
    if (spec.kind === 'string') {
      if (!value.image.startsWith('"')) throw bad('a string');
      const s = decodeString(value.image);
      if (spec.oneOf !== undefined && !spec.oneOf.includes(s))
        throw bad(`one of ${orList(spec.oneOf.map((o) => JSON.stringify(o)))}, not ${JSON.stringify(s)}`);
      return s;
    }
    if (value.image.startsWith('"')) throw bad(spec.kind === 'int' ? 'an integer' : 'a number');
    const x = parseNumberLiteral(value.image);
    if (spec.kind === 'int' && !Number.isInteger(x)) throw bad(`an integer, not ${value.image}`);
    return x;
  }
}
