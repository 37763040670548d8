/**
 * place as text IR in -> expected text IR out (test/passes/place/). Besides the text, each
 * case states by hand what the fixture's comments promise: which values are shared (once
 * each, by their owner), which ops run where, which outputs are revealed; and the placed
 * graph computes exactly what the unplaced one does (share and reveal are identities in
 * the plaintext interpreter) and passes the information-flow verifier.
 */
import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../ir/graph.ts';
import { printGraph } from '../ir/print.ts';
import type { Placement } from '../ir/types.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loadMir, maxOutputDifference, randomInputs } from '../test/passes/pass-harness.ts';
import { place } from './place.ts';
import { verifyFlow } from './verify-flow.ts';

const DIR = 'test/passes/place';

interface Case {
  readonly name: string;
  /** Values shared, with the party that shares each. */
  readonly shared: Readonly<Record<string, 'client' | 'server'>>;
  /** Placement of named results (the fixture's value names survive placement). */
  readonly placements: Readonly<Record<string, Placement>>;
  /** Outputs revealed to the client (by output name); the others are returned as they are. */
  readonly revealed: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'client-only',
    shared: {},
    placements: {
      w: 'both',
      b: 'both',
      half: 'both',
      wt: 'both',
      bs: 'both',
      h: 'client',
      hb: 'client',
      y: 'client',
    },
    revealed: [],
  },
  {
    name: 'server-only',
    shared: { x: 'client', merged: 'server' },
    placements: { w: 'server', a: 'server', ab: 'server', ab2: 'server', merged: 'server', y: 'mpc' },
    revealed: ['y', 'merged'],
  },
  {
    name: 'public',
    shared: {},
    placements: { wpe: 'both', pos: 'both', p: 'both', y: 'client' },
    revealed: [],
  },
  {
    name: 'mixed',
    shared: { xn: 'client', m: 'client' },
    placements: {
      emb: 'both',
      wq: 'server',
      x: 'client',
      xn: 'client',
      xs: 'client',
      q: 'mpc',
      k: 'mpc',
      qb: 'mpc',
      m: 'client',
      sm2: 'mpc',
      out: 'mpc',
      tok: 'mpc',
      logits: 'mpc',
    },
    revealed: ['logits'],
  },
];

function nodeOf(g: Graph, id: string): Node {
  const n = g.nodes.find((m) => m.outputs.includes(id));
  if (n === undefined) throw new Error(`no node defines %${id}`);
  return n;
}

describe('place: text IR in, expected text IR out', () => {
  it.each(CASES)('$name', ({ name, shared, placements, revealed }) => {
    const g = loadMir(`${DIR}/${name}.in.mir`);
    const out = place(g);
    expectTextFile(printGraph(out), `${DIR}/${name}.out.mir`);
    verifyGraph(out);
    expect(() => verifyFlow(out)).not.toThrow();

    // Every node is placed; the named ones where the fixture says.
    for (const n of out.nodes) expect(n.placement, `%${n.outputs[0]}`).toBeDefined();
    for (const [id, where] of Object.entries(placements))
      expect(nodeOf(out, id).placement, `%${id}`).toBe(where);

    // Exactly the expected values are shared, once each, by their owner.
    const shares = out.nodes.filter((n) => n.op === 'share');
    expect(shares.map((n) => n.inputs[0]).sort()).toEqual(Object.keys(shared).sort());
    for (const s of shares) expect(s.attrs['from']).toBe(shared[s.inputs[0]!]);

    // Exactly the expected outputs are revealed (to the client); the others keep their value.
    const reveals = out.nodes.filter((n) => n.op === 'reveal');
    expect(reveals).toHaveLength(revealed.length);
    for (const o of out.outputs) {
      const before = g.outputs.find((x) => x.name === o.name)!.value;
      if (revealed.includes(o.name)) {
        const r = nodeOf(out, o.value);
        expect(r.op).toBe('reveal');
        expect(r.attrs['to']).toBe('client');
      } else expect(o.value).toBe(before);
      expect(['client', 'public']).toContain(out.values.get(o.value)!.visibility);
    }

    // Placement adds communication, never computation.
    for (const seed of [1, 2]) expect(maxOutputDifference(g, out, randomInputs(g, seed))).toBe(0);
  });

  it('is idempotent: placing a placed graph changes nothing', () => {
    for (const { name } of CASES) {
      const once = place(loadMir(`${DIR}/${name}.in.mir`));
      expect(printGraph(place(once)), name).toBe(printGraph(once));
    }
  });
});

describe('place: the operands of MPC ops', () => {
  const out = place(loadMir(`${DIR}/mixed.in.mir`));
  const operandVisibility = (id: string) => nodeOf(out, id).inputs.map((i) => out.values.get(i)!.visibility);

  it('keeps server weights as owned plaintext operands (x @ W_server, + b_server)', () => {
    expect(operandVisibility('q')).toEqual(['secret', 'server']);
    expect(operandVisibility('qb')).toEqual(['secret', 'server']);
  });

  it('keeps a public weight public: a local matmul on shares', () => {
    expect(operandVisibility('out')).toEqual(['secret', 'public']);
  });

  it("keeps the client's gather indices in the clear: the client one-hot encodes its own ids", () => {
    const tok = nodeOf(out, 'tok');
    expect(tok.inputs[1]).toBe('ids');
    expect(operandVisibility('tok')).toEqual(['server', 'client']);
  });

  it('reads one share wherever an MPC op reads the same client value', () => {
    const shareOf = (v: string) => out.nodes.find((n) => n.op === 'share' && n.inputs[0] === v)!.outputs[0]!;
    expect(nodeOf(out, 'q').inputs[0]).toBe(shareOf('xn'));
    expect(nodeOf(out, 'k').inputs[0]).toBe(shareOf('xn'));
    expect(nodeOf(out, 'sm').inputs[1]).toBe(shareOf('m'));
    expect(nodeOf(out, 'sm2').inputs[1]).toBe(shareOf('m'));
    // The client's own use of the value reads the plaintext.
    expect(nodeOf(out, 'xs').inputs[0]).toBe('xn');
  });
});
