/**
 * Tokens of the `.mir` text form (chevrotain). Names carry their sigil (`%x`,
 * `@g`), so a value, a graph or placement name and a bare word never look
 * alike; keywords are identifiers with a category so they may still be used
 * where any identifier is allowed (attribute keys, output names).
 */
import type { CustomPatternMatcherReturn, IToken, TokenType } from 'chevrotain';
import { Lexer, createToken } from 'chevrotain';
import { MarillError } from './errors.ts';

const JSON_STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"`;
const NAME = String.raw`[A-Za-z0-9_][A-Za-z0-9_.]*`;

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n]*/, group: Lexer.SKIPPED });

export const Identifier = createToken({
  name: 'Identifier',
  label: 'a name',
  pattern: /[A-Za-z_][A-Za-z0-9_.]*/,
});
export const GraphKeyword = createToken({
  name: 'GraphKeyword',
  label: "'graph'",
  pattern: /graph/,
  longer_alt: Identifier,
  categories: [Identifier],
});
export const ReturnKeyword = createToken({
  name: 'ReturnKeyword',
  label: "'return'",
  pattern: /return/,
  longer_alt: Identifier,
  categories: [Identifier],
});

/** `state`: after an output's type, the graph input that output becomes at the next step. */
export const StateKeyword = createToken({
  name: 'StateKeyword',
  label: "'state'",
  pattern: /state/,
  longer_alt: Identifier,
  categories: [Identifier],
});

export const ValueName = createToken({
  name: 'ValueName',
  label: 'a value name (%name)',
  pattern: new RegExp(`%(?:${NAME}|${JSON_STRING})`),
});
export const AtName = createToken({
  name: 'AtName',
  label: 'a name (@name)',
  pattern: new RegExp(`@(?:${NAME}|${JSON_STRING})`),
});
export const StringLiteral = createToken({
  name: 'StringLiteral',
  label: 'a string',
  pattern: new RegExp(JSON_STRING),
});
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  label: 'a number',
  pattern: /-?(?:inf|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)|nan/,
  longer_alt: Identifier,
});
/** `#sha256:<hex>`; the digest's form is checked by the parser, which can say what is wrong with it. */
export const HashLiteral = createToken({
  name: 'HashLiteral',
  label: 'a hash (#sha256:...)',
  pattern: /#[A-Za-z0-9_:]*/,
});

const PROTOCOL = /\(([A-Za-z0-9_.-]+)\)/y;
/**
 * `(proto.name)` directly after a placement `@mpc`. Lexed only there, so that
 * protocol names may contain `-` and start with a digit without clashing with
 * numbers or the header's parentheses.
 */
function matchProtocol(text: string, offset: number, tokens: IToken[]): CustomPatternMatcherReturn | null {
  const previous = tokens[tokens.length - 1];
  if (previous === undefined || previous.tokenType !== AtName) return null;
  if (previous.endOffset !== offset - 1) return null;
  PROTOCOL.lastIndex = offset;
  const m = PROTOCOL.exec(text);
  return m === null ? null : [m[0]];
}
export const ProtocolSuffix = createToken({
  name: 'ProtocolSuffix',
  label: 'a protocol (name)',
  pattern: { exec: matchProtocol },
  line_breaks: false,
  start_chars_hint: ['('],
});

function punct(name: string, text: string): TokenType {
  return createToken({ name, label: `'${text}'`, pattern: text });
}
export const Arrow = punct('Arrow', '->');
export const Equals = punct('Equals', '=');
export const Colon = punct('Colon', ':');
export const Comma = punct('Comma', ',');
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBrace = punct('LBrace', '{');
export const RBrace = punct('RBrace', '}');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');

export const ALL_TOKENS: TokenType[] = [
  WhiteSpace,
  Comment,
  ValueName,
  AtName,
  ProtocolSuffix,
  StringLiteral,
  HashLiteral,
  Arrow,
  NumberLiteral,
  GraphKeyword,
  ReturnKeyword,
  StateKeyword,
  Identifier,
  Equals,
  Colon,
  Comma,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
];

const mirLexer = new Lexer(ALL_TOKENS, { positionTracking: 'full', ensureOptimizations: false });

/** The tokens of a `.mir` text; the first unreadable character is a MarillError at its line:column. */
export function tokenize(text: string, file?: string): IToken[] {
  const result = mirLexer.tokenize(text);
  const first = result.errors[0];
  if (first !== undefined) {
    const ch = text[first.offset] ?? '';
    const what =
      ch === '"' ? 'unterminated or malformed string' : `unexpected character ${JSON.stringify(ch)}`;
    throw new MarillError(what, { file, line: first.line, column: first.column });
  }
  return result.tokens;
}

/** Decodes `%x` / `%"x"` / `@x` / `@"x"` to the name. */
export function decodeSigilName(image: string): string {
  const rest = image.slice(1);
  return rest.startsWith('"') ? (JSON.parse(rest) as string) : rest;
}

/** Decodes a JSON string literal token. */
export function decodeString(image: string): string {
  return JSON.parse(image) as string;
}

/** The protocol name inside a `(...)` suffix. */
export function decodeProtocol(image: string): string {
  return image.slice(1, -1);
}
