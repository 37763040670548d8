/**
 * Negative tests: one error per snippet, with the message and the line:column
 * it is reported at. The expected position is found by searching the snippet
 * for the offending text (independently of the parser's own bookkeeping).
 */
import { describe, expect, it } from 'vitest';
import { MarillError } from './errors.ts';
import { parseGraph } from './parse.ts';

const H = 'a'.repeat(64);
const X = 'graph @g(%x: client f32[2]) -> (y: f32[2]) {';

interface Case {
  name: string;
  text: string;
  /** The offending text, and which occurrence of it (1-based) the error is at; 'end' for the end of the text. */
  at: string | [string, number] | 'end';
  message: RegExp;
}

const cases: Case[] = [
  // lexing
  {
    name: 'unexpected character',
    text: `${X} %0 = relu ? }`,
    at: '?',
    message: /^unexpected character "\?"$/,
  },
  {
    name: 'unterminated string',
    text: `${X} %0 = weight "abc : public f32[2] }`,
    at: '"abc',
    message: /unterminated or malformed string/,
  },
  // syntax
  {
    name: 'missing colon before the types',
    text: `${X} %0 = relu %x client f32[2] return %0 }`,
    at: ['client', 2],
    message: /^expected ':' but found 'client'$/,
  },
  {
    name: 'end of text',
    text: 'graph @g() -> () { return',
    at: 'end',
    message: /^expected '}' but found the end of the text$/,
  },
  {
    name: 'graph name without @',
    text: 'graph g() -> () { return }',
    at: 'g(',
    message: /^expected a name \(@name\) but found 'g'$/,
  },
  {
    name: 'text after the graph',
    text: 'graph @g() -> () { return } x',
    at: ' x',
    message: /^unexpected 'x' after the end of the graph$/,
  },
  {
    name: 'type without element type',
    text: 'graph @g(%x: client) -> () { return }',
    at: ')',
    message: /^expected an element type \(f32, i64 or bool\) but found '\)'$/,
  },
  {
    name: 'node without op name',
    text: `${X} %0 = : client f32[2] return %0 }`,
    at: [': client', 2],
    message: /^expected an op name but found ':'$/,
  },
  {
    name: 'space between placement and protocol',
    text: `${X} %0 = relu %x : client f32[2] @client (p) return %0 }`,
    at: '(p)',
    message: /^expected 'return' but found '\('$/,
  },
  // names
  {
    name: 'unknown op',
    text: `${X} %0 = frobnicate %x : client f32[2] return %0 }`,
    at: 'frobnicate',
    message: /^unknown op 'frobnicate'$/,
  },
  {
    name: 'unknown value',
    text: `${X} %0 = relu %z : client f32[2] return %0 }`,
    at: '%z',
    message: /^unknown value %z$/,
  },
  {
    name: 'value used before its definition',
    text: `${X} %0 = relu %1 : client f32[2] %1 = relu %x : client f32[2] return %0 }`,
    at: '%1',
    message: /^%1 is used before its definition at line 1$/,
  },
  {
    name: 'duplicate definition',
    text: `${X} %0 = relu %x : client f32[2] %0 = neg %x : client f32[2] return %0 }`,
    at: ['%0', 2],
    message: /^%0 is already defined$/,
  },
  {
    name: 'node result redefines an input',
    text: `${X} %x = relu %x : client f32[2] return %x }`,
    at: ['%x', 2],
    message: /^%x is already defined$/,
  },
  {
    name: 'duplicate input',
    text: 'graph @g(%x: client f32[2], %x: client f32[2]) -> () { return }',
    at: ['%x', 2],
    message: /^%x is already defined$/,
  },
  {
    name: 'duplicate output name',
    text: `graph @g(%x: client f32[2]) -> (y: f32[2], y: f32[2]) { return %x, %x }`,
    at: ['y:', 2],
    message: /^output 'y' is declared twice$/,
  },
  // state outputs
  {
    name: 'state output naming a value that is not a graph input',
    text: `${X} %0 = relu %x : client f32[2] return %0, %0 }`.replace(
      '(y: f32[2])',
      '(y: f32[2], s: f32[2] state %0)',
    ),
    at: ['%0', 1],
    message: /^state output 's' names %0, which is not a graph input$/,
  },
  {
    name: 'two state outputs naming one input',
    text: `graph @g(%x: client f32[2]) -> (s: f32[2] state %x, t: f32[2] state %x) { return %x, %x }`,
    at: ['%x', 3],
    message: /^state input %x is named by two outputs$/,
  },
  {
    name: 'state output of another element type than its input',
    text: `graph @g(%x: client f32[2], %i: client i64[2]) -> (s: f32[2] state %i) { return %x }`,
    at: ['%i', 2],
    message: /^state output 's' is f32 but the input it becomes, %i, is i64$/,
  },
  {
    name: "'state' without the input it names",
    text: `graph @g(%x: client f32[2]) -> (s: f32[2] state) { return %x }`,
    at: ') {',
    message: /^expected a value name \(%name\) but found '\)'$/,
  },
  {
    name: 'another word where state is expected',
    text: `graph @g(%x: client f32[2]) -> (s: f32[2] carried %x) { return %x }`,
    at: 'carried',
    message: /^expected .* but found 'carried'$/,
  },
  // attributes
  {
    name: 'unknown attribute',
    text: `${X} %0 = gelu %x {approximate = "tanh"} : client f32[2] return %0 }`,
    at: 'approximate',
    message: /^op 'gelu' has no attribute 'approximate' \(it has 'approx'\)$/,
  },
  {
    name: 'string attribute outside its set',
    text: `${X} %0 = gelu %x {approx = "fast"} : client f32[2] return %0 }`,
    at: '"fast"',
    message: /^attribute 'approx' of gelu must be one of "erf", "tanh", "relu" or "quad", not "fast"$/,
  },
  {
    name: 'integer attribute given a fraction',
    text: `${X} %0 = softmax %x {axis = 1.5} : client f32[2] return %0 }`,
    at: '1.5',
    message: /^attribute 'axis' of softmax must be an integer, not 1.5$/,
  },
  {
    name: 'list attribute given a number',
    text: `${X} %0 = transpose %x {perm = 0} : client f32[2] return %0 }`,
    at: '0}',
    message: /^attribute 'perm' of transpose must be a list of integers$/,
  },
  {
    name: 'string attribute given a number',
    text: `${X} %0 = cast %x {to = 3} : client i64[2] return %0 }`,
    at: '3}',
    message: /^attribute 'to' of cast must be a string$/,
  },
  {
    name: 'missing required attribute',
    text: `${X} %0 = transpose %x : client f32[2] return %0 }`,
    at: 'transpose',
    message: /^op 'transpose' needs attribute 'perm'$/,
  },
  {
    name: 'attribute given twice',
    text: `${X} %0 = softmax %x {axis = 0, axis = 0} : client f32[2] return %0 }`,
    at: ['axis', 2],
    message: /^attribute 'axis' is given twice$/,
  },
  // types and visibility
  {
    name: 'declared type differs from the op rule',
    text: `${X} %0 = relu %x : client f32[3] return %0 }`,
    at: 'f32[3]',
    message: /^%0 is declared f32\[3\] but its op gives f32\[2\]$/,
  },
  {
    name: 'declared visibility differs from the join',
    text: `${X} %0 = relu %x : server f32[2] return %0 }`,
    at: 'server',
    message: /^%0 is declared server but relu of its operands gives client$/,
  },
  {
    name: 'operand shapes the op rejects',
    text: 'graph @g(%x: client f32[2,3]) -> () { %0 = matmul %x, %x : client f32[2,3] return }',
    at: 'matmul',
    message: /^matmul inner dimensions differ: \[2,3\] x \[2,3\]$/,
  },
  {
    name: 'wrong number of operands',
    text: `${X} %0 = add %x : client f32[2] return %0 }`,
    at: 'add',
    message: /^op 'add' takes 2 operands, got 1$/,
  },
  {
    name: 'fewer types than results',
    text: `${X} %0, %1 = split %x {axis = 0, sizes = [1, 1]} : client f32[1] return %0 }`,
    at: ['client', 2],
    message: /^2 results but 1 types$/,
  },
  {
    name: 'unknown element type',
    text: 'graph @g(%x: client f16[2]) -> () { return }',
    at: 'f16',
    message: /^unknown element type 'f16' \(expected f32, i64 or bool\)$/,
  },
  {
    name: 'unknown visibility',
    text: 'graph @g(%x: privat f32[2]) -> () { return }',
    at: 'privat',
    message: /^unknown visibility 'privat' \(expected public, client, server or secret\)$/,
  },
  {
    name: 'negative dimension',
    text: 'graph @g(%x: client f32[-1]) -> () { return }',
    at: '-1',
    message: /^dimension '-1' is not a non-negative integer$/,
  },
  // placement
  {
    name: 'placement against visibility',
    text: `${X} %0 = relu %x : client f32[2] @mpc return %0 }`,
    at: '@mpc',
    message: /^placed @mpc, but a client result runs @client$/,
  },
  {
    name: 'unknown placement',
    text: `${X} %0 = relu %x : client f32[2] @gpu return %0 }`,
    at: '@gpu',
    message: /^unknown placement '@gpu' \(expected @client, @server, @both or @mpc\)$/,
  },
  {
    name: 'protocol on a plaintext node',
    text: `${X} %0 = relu %x : client f32[2] @client(beaver) return %0 }`,
    at: '(beaver)',
    message: /^protocol 'beaver' given for @client; only @mpc nodes have one$/,
  },
  {
    name: 'reveal placed at the client',
    text: `${X} %0 = share %x {from = "client"} : secret f32[2] %1 = reveal %0 {to = "client"} : client f32[2] @client return %1 }`,
    at: '@client',
    message: /^placed @client, but a reveal runs @mpc$/,
  },
  // share and reveal
  {
    name: 'share from the wrong party',
    text: `${X} %0 = share %x {from = "server"} : secret f32[2] return %x }`,
    at: ['%x', 2],
    message: /^share from server reads a client value$/,
  },
  {
    name: 'reveal of a value that is not secret',
    text: `${X} %0 = reveal %x {to = "client"} : client f32[2] return %0 }`,
    at: ['%x', 2],
    message: /^reveal reads a client value; only secret values are revealed$/,
  },
  // sources
  {
    name: 'bad weight hash',
    text: 'graph @g() -> () { %w = weight "w" : server f32[2] #sha256:abc return }',
    at: '#sha256',
    message: /^a weight hash is #sha256: followed by 64 lowercase hex digits$/,
  },
  {
    name: 'weight written like an op',
    text: `${X} %w = weight %x : server f32[2] return %x }`,
    at: 'weight',
    message: /^a weight is written: %w = weight "name" : visibility dtype\[shape\] #sha256:<hash>$/,
  },
  {
    name: 'weight with two results',
    text: `graph @g() -> () { %a, %b = weight "w" : server f32[2] #sha256:${H} return }`,
    at: '%b',
    message: /^a weight has one result$/,
  },
  {
    name: 'op given a list of values',
    text: `${X} %0 = relu [1, 2] : client f32[2] return %0 }`,
    at: '[1',
    message: /^op 'relu' takes operands, not a list of values$/,
  },
  {
    name: 'const with the wrong number of values',
    text: 'graph @g() -> () { %c = const [1, 2] : public f32[3] return }',
    at: '[1',
    message: /^const has 2 values but f32\[3\] needs 3$/,
  },
  {
    name: 'fractional i64 const',
    text: 'graph @g() -> () { %c = const [1, 2.5] : public i64[2] return }',
    at: '2.5',
    message: /^'2.5' is not an i64 value$/,
  },
  {
    name: 'bool const that is not 0 or 1',
    text: 'graph @g() -> () { %c = const [0, 2] : public bool[2] return }',
    at: '2]',
    message: /^const value 2 is not a valid bool$/,
  },
  {
    name: 'const placed where its visibility does not run',
    text: 'graph @g() -> () { %c = const [0] : public f32[1] @client return }',
    at: '@client',
    message: /^placed @client, but a public result runs @both$/,
  },
  // return
  {
    name: 'return gives fewer values than the header declares',
    text: 'graph @g(%x: client f32[2]) -> (y: f32[2], z: f32[2]) { return %x }',
    at: 'return',
    message: /^return gives 1 values but the header declares 2 outputs$/,
  },
  {
    name: 'returned value of another type',
    text: 'graph @g(%x: client f32[2]) -> (y: f32[3]) { return %x }',
    at: ['%x', 2],
    message: /^output 'y' is declared f32\[3\] but %x is f32\[2\]$/,
  },
  {
    name: 'error on a later line',
    text: `${X}\n  %0 = relu %x : client f32[2]\n  %1 = neg %0 : client f32[2] @server\n  return %1\n}\n`,
    at: '@server',
    message: /^placed @server, but a client result runs @client$/,
  },
];

/** 1-based line and column of a character offset. */
function positionAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

function expectedPosition(c: Case): { line: number; column: number } {
  if (c.at === 'end') return positionAt(c.text, c.text.length);
  const [needle, occurrence] = typeof c.at === 'string' ? [c.at, 1] : c.at;
  let offset = -1;
  for (let k = 0; k < occurrence; k++) {
    offset = c.text.indexOf(needle, offset + 1);
    if (offset < 0)
      throw new Error(`test case '${c.name}': '${needle}' occurs fewer than ${occurrence} times`);
  }
  // A marker starting with a space points at what follows it.
  return positionAt(c.text, offset + (needle.length - needle.trimStart().length));
}

function parseError(text: string, file?: string): MarillError {
  try {
    parseGraph(text, file);
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error('the text parsed without an error');
}

describe('parse errors', () => {
  for (const c of cases) {
    it(c.name, () => {
      const e = parseError(c.text);
      expect(e.message).toMatch(c.message);
      const { line, column } = expectedPosition(c);
      expect({ line: e.location.line, column: e.location.column }).toEqual({ line, column });
    });
  }

  it('name the file in the location and in the formatted message', () => {
    const e = parseError(`${X}\n  %0 = relu %z : client f32[2]\n  return %0\n}\n`, 'model.mir');
    expect(e.location.file).toBe('model.mir');
    expect(e.format()).toBe('model.mir:2:13: unknown value %z');
  });
});
