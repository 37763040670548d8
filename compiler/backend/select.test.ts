/**
 * Protocol selection against the cost model: lan and wan pick differently
 * where the trade-off (rounds vs bytes) says they should, and the selected
 * plan's estimate is never worse than a plan that uses one comparison family
 * (all DCF, or all boolean) throughout.
 */
import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { isProtocolNode } from '../../runtime/bound-plan.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { loadBaseModel } from '../onnx/base-model.ts';
import { costPlan, protocolCost } from './cost.ts';
import { loadModel, runPipeline } from '../driver.ts';
import { NETWORKS } from './network.ts';
import type { NetworkProfile } from './network.ts';
import { candidates, selectProtocols } from './select.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';

const FRAC = DEFAULT_FRAC_BITS;

function placed(family: string, variant: string, shapes: Record<string, number[]> = {}): Graph {
  const g = loadModel(`examples/${family}/${variant}.onnx`, { shapes });
  const base = loadBaseModel(`examples/${family}/base.onnx`);
  return runPipeline(g, { ...DEFAULT_OPTIONS, base }).graph;
}

/** Every protocol node pinned to a protocol of one family where the op has one, else the fastest. */
function pinFamily(g: Graph, suffix: string, net: NetworkProfile): Graph {
  const nodes = g.nodes.map((n) => {
    if (!isProtocolNode(n)) return n;
    const options = candidates(g, n, net, FRAC, DEFAULT_CALIBRATION);
    const pick = options.find((c) => c.protocol.endsWith(suffix)) ?? options[0]!;
    return { ...n, protocol: pick.protocol };
  });
  return { ...g, nodes };
}

const BERT_SHAPES = { input_ids: [1, 16], attention_mask: [1, 16] };

describe('protocol selection', () => {
  const g = placed('bert', 'full', BERT_SHAPES);
  const lan = selectProtocols(g, NETWORKS.lan, FRAC);
  const wan = selectProtocols(g, NETWORKS.wan, FRAC);

  it('every protocol node gets a protocol', () => {
    for (const sel of [lan, wan])
      for (const n of sel.nodes) if (isProtocolNode(n)) expect(n.protocol).toBeDefined();
  });

  it('lan and wan pick differently, each for the reason its network favours', () => {
    const differing = lan.nodes
      .map((n, i) => [n, wan.nodes[i]!] as const)
      .filter(([a, b]) => a.protocol !== b.protocol);
    expect(differing.length).toBeGreaterThan(0);
    for (const [onLan, onWan] of differing) {
      const l = protocolCost(lan, onLan, onLan.protocol, FRAC).cost;
      const w = protocolCost(wan, onWan, onWan.protocol, FRAC).cost;
      // wan (40 ms per round) never takes more rounds than lan chose; lan (cheap rounds) saves bytes.
      expect(w.rounds).toBeLessThanOrEqual(l.rounds);
      const bytes = (c: typeof l) => Math.max(c.onlineBytes[0], c.onlineBytes[1]);
      if (w.rounds === l.rounds) expect(bytes(l)).toBeLessThanOrEqual(bytes(w));
    }
    // The comparison-based ops (softmax, GeLU) are where the families differ.
    expect(differing.some(([n]) => n.op === 'softmax' || n.op === 'gelu')).toBe(true);
  });

  for (const [name, net] of Object.entries(NETWORKS)) {
    it(`on ${name}, the selected plan is never worse than a single-family plan`, () => {
      const selected = costPlan(selectProtocols(g, net, FRAC), { network: net, fracBits: FRAC }).total
        .est_seconds;
      for (const suffix of ['.dcf', '.bool']) {
        const single = costPlan(pinFamily(g, suffix, net), { network: net, fracBits: FRAC }).total
          .est_seconds;
        expect(selected).toBeLessThanOrEqual(single + 1e-12);
      }
    });
  }

  it('a node that names its protocol keeps it', () => {
    const i = g.nodes.findIndex((n) => n.op === 'softmax');
    const pinned = {
      ...g,
      nodes: g.nodes.map((n, k) => (k === i ? { ...n, protocol: 'softmax.exact.dcf' } : n)),
    };
    expect(selectProtocols(pinned, NETWORKS.lan, FRAC).nodes[i]!.protocol).toBe('softmax.exact.dcf');
  });

  it('refuses an op with no MPC protocol placed @mpc, naming the node', () => {
    const i = g.nodes.findIndex((n) => n.op === 'gelu' && n.placement === 'mpc');
    const out = g.nodes[i]!.outputs[0]!;
    const bad = {
      ...g,
      nodes: g.nodes.map((n, k) => (k === i ? { ...n, op: 'sin' as const, attrs: {} } : n)),
    };
    const error = (() => {
      try {
        selectProtocols(bad, NETWORKS.lan, FRAC);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MarillError);
    expect((error as MarillError).format()).toMatch(
      new RegExp(`^%${out} = sin.*: op 'sin' has no MPC protocol, so it runs only on data in the clear`),
    );
  });
});
