import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MarillError } from './errors.ts';
import type { Graph, Node, ValueInfo } from './graph.ts';
import type { OpName } from './ops.ts';
import { parseGraph } from './parse.ts';
import { allowedPlacements, verifyGraph } from './verify.ts';

const HASH = 'ab'.repeat(32);
const BASE = `graph @g(%x: client f32[2,3]) -> (y: f32[2,2]) {
  %w = weight "w" : server f32[3,2] #sha256:${HASH} @server
  %c = const [1, 2] : public f32[2]
  %0 = relu %x : client f32[2,3] @client
  %1 = share %0 {from = "client"} : secret f32[2,3] @client
  %2 = matmul %1, %w : secret f32[2,2] @mpc(beaver.weight)
  %3 = add %2, %c : secret f32[2,2] @mpc
  %4 = reveal %3 {to = "client"} : client f32[2,2] @mpc
  %5, %6 = split %0 {axis = 1, sizes = [1, 2]} : client f32[2,1], client f32[2,2]
  return %4
}
`;

const base = (): Graph => parseGraph(BASE);

function indexOfNode(g: Graph, result: string): number {
  const i = g.nodes.findIndex((n) => n.outputs.includes(result));
  if (i < 0) throw new Error(`no node defines %${result}`);
  return i;
}

function withNode(g: Graph, result: string, patch: Partial<Node>): Graph {
  const nodes = [...g.nodes];
  const i = indexOfNode(g, result);
  nodes[i] = { ...nodes[i]!, ...patch };
  return { ...g, nodes };
}

function withValue(g: Graph, id: string, patch: Partial<ValueInfo>): Graph {
  const values = new Map(g.values);
  values.set(id, { ...values.get(id)!, ...patch });
  return { ...g, values };
}

function verifyError(g: Graph): MarillError {
  try {
    verifyGraph(g);
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error('the graph verified');
}

describe('verifyGraph accepts', () => {
  it('the base graph and every .mir fixture', () => {
    verifyGraph(base());
    const dir = fileURLToPath(new URL('../test/mir/', import.meta.url));
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.mir')))
      verifyGraph(parseGraph(readFileSync(dir + f, 'utf8'), f));
  });

  it('graphs without placements', () => {
    const g = base();
    verifyGraph({ ...g, nodes: g.nodes.map(({ placement: _p, protocol: _q, ...rest }) => rest) });
  });
});

describe('verifyGraph rejects, naming the node or value', () => {
  const cases: { name: string; graph: () => Graph; message: RegExp; what: string }[] = [
    {
      name: 'a value defined twice',
      graph: () => {
        const g = base();
        const dup = { ...g.nodes[indexOfNode(g, '0')]!, inputs: ['x'] };
        return { ...g, nodes: [...g.nodes.slice(0, 3), dup, ...g.nodes.slice(3)] };
      },
      message: /^value %0 is defined more than once$/,
      what: '%0 = relu',
    },
    {
      name: 'a state output naming a value that is not a graph input',
      graph: () => {
        const g = base();
        return { ...g, outputs: [{ ...g.outputs[0]!, state: '0' }] };
      },
      message: /^state output 'y' names %0, which is not a graph input$/,
      what: 'graph @g outputs',
    },
    {
      name: 'two state outputs naming one input',
      graph: () => {
        const g = base();
        const o = g.outputs[0]!;
        return {
          ...g,
          outputs: [
            { ...o, state: 'x' },
            { name: 'z', value: o.value, state: 'x' },
          ],
        };
      },
      message: /^state input %x is fed by two state outputs$/,
      what: 'graph @g outputs',
    },
    {
      name: 'an operand used before it is defined',
      graph: () => {
        const g = base();
        const nodes = [...g.nodes];
        const i = indexOfNode(g, '1');
        [nodes[i], nodes[i + 1]] = [nodes[i + 1]!, nodes[i]!];
        return { ...g, nodes };
      },
      message: /^operand %1 is used before it is defined$/,
      what: '%2 = matmul',
    },
    {
      name: 'an operand nothing defines',
      graph: () => withNode(base(), '3', { inputs: ['2', 'nowhere'] }),
      message: /^operand %nowhere is never defined$/,
      what: '%3 = add',
    },
    {
      name: 'a value table type that is not what the op gives',
      graph: () => withValue(base(), '2', { type: { dtype: 'f32', shape: [2, 3] } }),
      message: /^%2 is recorded as f32\[2,3\] but its op gives f32\[2,2\]$/,
      what: '%2 = matmul',
    },
    {
      name: 'an unknown attribute',
      graph: () => withNode(base(), '0', { attrs: { alpha: 1 } }),
      message: /^op 'relu' has no attribute 'alpha'$/,
      what: '%0 = relu',
    },
    {
      name: 'an attribute value outside its set',
      graph: () => withNode(base(), '1', { attrs: { from: 'dealer' } }),
      message: /^op 'share' attribute 'from' has a bad value "dealer"$/,
      what: '%1 = share',
    },
    {
      name: 'a visibility that is not the join of the operands',
      graph: () => withValue(base(), '3', { visibility: 'server' }),
      message: /^results are recorded server but the join of the operands gives secret$/,
      what: '%3 = add',
    },
    {
      name: 'results of one node with different visibilities',
      graph: () => withValue(base(), '6', { visibility: 'secret' }),
      message: /^results differ in visibility: client, secret$/,
      what: '%5, %6 = split',
    },
    {
      name: 'a placement that does not fit the visibility',
      graph: () => withNode(base(), '3', { placement: 'server', protocol: undefined }),
      message: /^placed @server, but a secret result runs @mpc$/,
      what: '%3 = add',
    },
    {
      name: 'a protocol on a plaintext node',
      graph: () => withNode(base(), '0', { protocol: 'beaver' }),
      message: /^protocol 'beaver' given for @client; only @mpc nodes have one$/,
      what: '%0 = relu',
    },
    {
      name: 'a protocol name the text form cannot spell',
      graph: () => withNode(base(), '2', { protocol: 'beaver weight' }),
      message: /^protocol name 'beaver weight' may only contain/,
      what: '%2 = matmul',
    },
    {
      name: 'a share of another party’s value',
      graph: () => withNode(base(), '1', { attrs: { from: 'server' }, placement: 'mpc' }),
      message: /^share from server reads a client value$/,
      what: '%1 = share',
    },
    {
      name: 'a weight hash that is not sha256 hex',
      graph: () => withNode(base(), 'w', { attrs: { name: 'w', hash: 'ABC' } }),
      message: /^weight hash 'ABC' is not 64 lowercase hex digits \(sha256\)$/,
      what: '%w = weight',
    },
    {
      name: 'a const with too few values',
      graph: () => withNode(base(), 'c', { attrs: { value: [1] } }),
      message: /^const has 1 values but f32\[2\] needs 2$/,
      what: '%c = const',
    },
    {
      name: 'a const whose value differs from its tensor',
      graph: () => withNode(base(), 'c', { attrs: { value: [1, 3] } }),
      message: /^const value 3 at index 1 differs from its tensor's 2$/,
      what: '%c = const',
    },
    {
      name: 'an unknown op',
      graph: () => withNode(base(), '0', { op: 'frobnicate' as OpName }),
      message: /^unknown op 'frobnicate'$/,
      what: '%0 = frobnicate',
    },
    {
      name: 'a value table entry under another id',
      graph: () => withValue(base(), '4', { id: 'four' }),
      message: /^value table entry %4 names itself four$/,
      what: '%4 = reveal',
    },
    {
      name: 'a value table entry nothing defines',
      graph: () => {
        const g = base();
        const values = new Map(g.values);
        values.set('stale', { id: 'stale', type: { dtype: 'f32', shape: [] }, visibility: 'public' });
        return { ...g, values };
      },
      message: /^value %stale is in the value table but nothing defines it$/,
      what: 'graph @g',
    },
    {
      name: 'an output that names an undefined value',
      graph: () => ({ ...base(), outputs: [{ name: 'y', value: 'ghost' }] }),
      message: /^output 'y' is %ghost, which is never defined$/,
      what: 'graph @g outputs',
    },
    {
      name: 'two outputs with one name',
      graph: () => ({
        ...base(),
        outputs: [
          { name: 'y', value: '4' },
          { name: 'y', value: '0' },
        ],
      }),
      message: /^output 'y' is declared twice$/,
      what: 'graph @g outputs',
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const e = verifyError(c.graph());
      expect(e.message).toMatch(c.message);
      expect(e.location.what).toBe(c.what);
    });
  }

  it('names the ONNX origin of a node when it has one', () => {
    const g = withNode(withValue(base(), '3', { visibility: 'client' }), '3', { origin: "node 'Add_7'" });
    expect(verifyError(g).location.what).toBe("%3 = add (from node 'Add_7')");
  });
});

describe('allowedPlacements', () => {
  it('follows visibility, with share at its owner or in MPC and reveal in MPC', () => {
    expect(allowedPlacements({ op: 'relu', attrs: {} }, 'secret')).toEqual(['mpc']);
    expect(allowedPlacements({ op: 'relu', attrs: {} }, 'client')).toEqual(['client']);
    expect(allowedPlacements({ op: 'matmul', attrs: {} }, 'server')).toEqual(['server']);
    expect(allowedPlacements({ op: 'weight', attrs: {} }, 'public')).toEqual(['both']);
    expect(allowedPlacements({ op: 'share', attrs: { from: 'server' } }, 'secret')).toEqual([
      'server',
      'mpc',
    ]);
    expect(allowedPlacements({ op: 'reveal', attrs: { to: 'client' } }, 'client')).toEqual(['mpc']);
  });
});
