/**
 * The `.mir` grammar (chevrotain). It only recognises structure and returns a
 * syntax tree of raw tokens with their positions; decoding and meaning (ops,
 * types, names) belong to ir/parse.ts, which can then say precisely where a
 * well-formed line is wrong.
 *
 *   graph    := 'graph' AtName '(' [input {',' input}] ')' '->' '(' [output {',' output}] ')' '{' node* return '}'
 *   input    := ValueName ':' Identifier type
 *   output   := (Identifier | String) ':' type ['state' ValueName]
 *   type     := Identifier '[' [Number {',' Number}] ']'
 *   node     := ValueName {',' ValueName} '=' Identifier tail [AtName [ProtocolSuffix]]
 *   tail     := String ':' vtype Hash                               (weight)
 *             | list ':' vtype                                      (const)
 *             | [ValueName {',' ValueName}] [attrs] ':' vtype {',' vtype}
 *   vtype    := Identifier type
 *   attrs    := '{' [Identifier '=' value {',' Identifier '=' value}] '}'
 *   value    := Number | String | list
 *   list     := '[' [Number {',' Number}] ']'
 *   return   := 'return' [ValueName {',' ValueName}]
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF, EmbeddedActionsParser } from 'chevrotain';
import { MarillError } from './errors.ts';
import {
  ALL_TOKENS,
  Arrow,
  AtName,
  Colon,
  Comma,
  Equals,
  GraphKeyword,
  HashLiteral,
  Identifier,
  LBrace,
  LBracket,
  LParen,
  NumberLiteral,
  ProtocolSuffix,
  RBrace,
  RBracket,
  RParen,
  ReturnKeyword,
  StateKeyword,
  StringLiteral,
  ValueName,
  tokenize,
} from './mir-lexer.ts';

/** A token's text and where it starts (1-based). */
export interface Tok {
  readonly image: string;
  readonly line: number;
  readonly column: number;
}

export interface TypeSyntax {
  readonly dtype: Tok;
  readonly dims: readonly Tok[];
}

export interface VisibleTypeSyntax extends TypeSyntax {
  readonly visibility: Tok;
}

export interface AttrSyntax {
  readonly key: Tok;
  /** A number or string token, or a list of number tokens. */
  readonly value: Tok | ListSyntax;
}

export interface ListSyntax {
  readonly open: Tok;
  readonly items: readonly Tok[];
}

export type NodeTail =
  | { readonly kind: 'weight'; readonly name: Tok; readonly type: VisibleTypeSyntax; readonly hash: Tok }
  | { readonly kind: 'const'; readonly values: ListSyntax; readonly type: VisibleTypeSyntax }
  | {
      readonly kind: 'op';
      readonly operands: readonly Tok[];
      readonly attrs: readonly AttrSyntax[];
      readonly types: readonly VisibleTypeSyntax[];
    };

export interface NodeSyntax {
  readonly results: readonly Tok[];
  readonly op: Tok;
  readonly tail: NodeTail;
  readonly placement?: Tok;
  readonly protocol?: Tok;
}

/** `name: type`, or `name: type state %input` for a state output. */
export interface OutputSyntax {
  readonly name: Tok;
  readonly type: TypeSyntax;
  readonly state?: Tok;
}

export interface GraphSyntax {
  readonly name: Tok;
  readonly inputs: readonly { readonly name: Tok; readonly type: VisibleTypeSyntax }[];
  readonly outputs: readonly OutputSyntax[];
  readonly nodes: readonly NodeSyntax[];
  readonly returnKeyword: Tok;
  readonly returned: readonly Tok[];
}

function tok(t: IToken): Tok {
  return { image: t.image, line: t.startLine ?? 0, column: t.startColumn ?? 0 };
}

function describeToken(t: IToken): string {
  return t.tokenType === EOF ? 'the end of the text' : `'${t.image}'`;
}

function label(t: TokenType): string {
  return t.LABEL ?? t.name;
}

function alternatives(paths: readonly (readonly TokenType[])[]): string {
  const firsts = [...new Set(paths.filter((p) => p.length > 0).map((p) => label(p[0]!)))];
  return firsts.length <= 1
    ? (firsts[0] ?? 'something else')
    : `${firsts.slice(0, -1).join(', ')} or ${firsts.at(-1)}`;
}

/** What a bare name stands for in each rule, for messages sharper than "expected a name". */
const NAME_ROLE: Readonly<Record<string, string>> = {
  visibleType: 'a visibility (public, client, server or secret)',
  tensorType: 'an element type (f32, i64 or bool)',
  node: 'an op name',
  attribute: 'an attribute name',
};

/** Messages that say what was expected in the words of the text form. */
const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, ruleName }) => {
    const what = (expected === Identifier ? NAME_ROLE[ruleName] : undefined) ?? label(expected);
    return `expected ${what} but found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `unexpected ${describeToken(firstRedundant)} after the end of the graph`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) =>
    `expected ${alternatives(expectedPathsPerAlt.flat())} but found ${describeToken(actual[0]!)}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    `expected ${alternatives(expectedIterationPaths)} but found ${describeToken(actual[0]!)}`,
};

class MirParser extends EmbeddedActionsParser {
  constructor() {
    super(ALL_TOKENS, { errorMessageProvider: errorMessages, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  /** A possibly empty comma-separated list; `occurrence` tells apart several lists in one rule. */
  private readonly commaList = <T>(item: () => T, occurrence: 1 | 2 | 3 = 1): T[] => {
    const items: T[] = [];
    const options = { SEP: Comma, DEF: () => items.push(item()) };
    if (occurrence === 1) this.MANY_SEP(options);
    else if (occurrence === 2) this.MANY_SEP2(options);
    else this.MANY_SEP3(options);
    return items;
  };

  private readonly tensorType = this.RULE('tensorType', (): TypeSyntax => {
    const dtype = tok(this.CONSUME(Identifier));
    this.CONSUME(LBracket);
    const dims = this.commaList(() => tok(this.CONSUME(NumberLiteral)));
    this.CONSUME(RBracket);
    return { dtype, dims };
  });

  private readonly visibleType = this.RULE('visibleType', (): VisibleTypeSyntax => {
    const visibility = tok(this.CONSUME(Identifier));
    const type = this.SUBRULE(this.tensorType);
    return { visibility, dtype: type.dtype, dims: type.dims };
  });

  private readonly numberList = this.RULE('numberList', (): ListSyntax => {
    const open = tok(this.CONSUME(LBracket));
    const items = this.commaList(() => tok(this.CONSUME(NumberLiteral)));
    this.CONSUME(RBracket);
    return { open, items };
  });

  private readonly attribute = this.RULE('attribute', (): AttrSyntax => {
    const key = tok(this.CONSUME(Identifier));
    this.CONSUME(Equals);
    const value = this.OR<Tok | ListSyntax>([
      { ALT: () => tok(this.CONSUME(NumberLiteral)) },
      { ALT: () => tok(this.CONSUME(StringLiteral)) },
      { ALT: () => this.SUBRULE(this.numberList) },
    ]);
    return { key, value };
  });

  private readonly attributes = this.RULE('attributes', (): AttrSyntax[] => {
    this.CONSUME(LBrace);
    const attrs = this.commaList(() => this.SUBRULE(this.attribute));
    this.CONSUME(RBrace);
    return attrs;
  });

  private readonly weightTail = this.RULE('weightTail', (): NodeTail => {
    const name = tok(this.CONSUME(StringLiteral));
    this.CONSUME(Colon);
    const type = this.SUBRULE(this.visibleType);
    const hash = tok(this.CONSUME(HashLiteral));
    return { kind: 'weight', name, type, hash };
  });

  private readonly constTail = this.RULE('constTail', (): NodeTail => {
    const values = this.SUBRULE(this.numberList);
    this.CONSUME(Colon);
    const type = this.SUBRULE(this.visibleType);
    return { kind: 'const', values, type };
  });

  private readonly opTail = this.RULE('opTail', (): NodeTail => {
    const operands = this.commaList(() => tok(this.CONSUME(ValueName)));
    let attrs: AttrSyntax[] = [];
    this.OPTION(() => {
      attrs = this.SUBRULE(this.attributes);
    });
    this.CONSUME(Colon);
    const types: VisibleTypeSyntax[] = [];
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => types.push(this.SUBRULE(this.visibleType)) });
    return { kind: 'op', operands, attrs, types };
  });

  private readonly node = this.RULE('node', (): NodeSyntax => {
    const results: Tok[] = [];
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => results.push(tok(this.CONSUME(ValueName))) });
    this.CONSUME(Equals);
    const op = tok(this.CONSUME(Identifier));
    const tail = this.OR<NodeTail>([
      { ALT: () => this.SUBRULE(this.weightTail) },
      { ALT: () => this.SUBRULE(this.constTail) },
      { ALT: () => this.SUBRULE(this.opTail) },
    ]);
    let placement: Tok | undefined;
    let protocol: Tok | undefined;
    this.OPTION(() => {
      placement = tok(this.CONSUME(AtName));
      this.OPTION2(() => {
        protocol = tok(this.CONSUME(ProtocolSuffix));
      });
    });
    return { results, op, tail, ...(placement && { placement }), ...(protocol && { protocol }) };
  });

  private readonly graphInput = this.RULE('graphInput', () => {
    const name = tok(this.CONSUME(ValueName));
    this.CONSUME(Colon);
    return { name, type: this.SUBRULE(this.visibleType) };
  });

  private readonly graphOutput = this.RULE('graphOutput', (): OutputSyntax => {
    const name = this.OR<Tok>([
      { ALT: () => tok(this.CONSUME(Identifier)) },
      { ALT: () => tok(this.CONSUME(StringLiteral)) },
    ]);
    this.CONSUME(Colon);
    const type = this.SUBRULE(this.tensorType);
    let state: Tok | undefined;
    this.OPTION(() => {
      this.CONSUME(StateKeyword);
      state = tok(this.CONSUME(ValueName));
    });
    return { name, type, ...(state && { state }) };
  });

  readonly graph = this.RULE('graph', (): GraphSyntax => {
    this.CONSUME(GraphKeyword);
    const name = tok(this.CONSUME(AtName));
    this.CONSUME(LParen);
    const inputs = this.commaList(() => this.SUBRULE(this.graphInput));
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    this.CONSUME2(LParen);
    const outputs = this.commaList(() => this.SUBRULE(this.graphOutput), 2);
    this.CONSUME2(RParen);
    this.CONSUME(LBrace);
    const nodes: NodeSyntax[] = [];
    this.MANY(() => nodes.push(this.SUBRULE(this.node)));
    const returnKeyword = tok(this.CONSUME(ReturnKeyword));
    const returned = this.commaList(() => tok(this.CONSUME(ValueName)), 3);
    this.CONSUME(RBrace);
    return { name, inputs, outputs, nodes, returnKeyword, returned };
  });
}

const parser = new MirParser();

/** Where an error token sits; the end of the text has no position of its own, so use the end of the last line. */
function positionOf(t: IToken, text: string): { line: number; column: number } {
  if (t.tokenType !== EOF && t.startLine !== undefined && !Number.isNaN(t.startLine))
    return { line: t.startLine, column: t.startColumn ?? 1 };
  const lines = text.replace(/\s+$/, '').split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/** The syntax tree of a `.mir` text; the first lexical or syntax error is a MarillError at its line:column. */
export function parseSyntax(text: string, file?: string): GraphSyntax {
  parser.input = tokenize(text, file);
  const tree = parser.graph();
  const first = parser.errors[0];
  if (first !== undefined) throw new MarillError(first.message, { file, ...positionOf(first.token, text) });
  return tree;
}
