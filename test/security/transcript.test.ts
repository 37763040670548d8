/**
 * The client's transcript: everything the client receives from the server
 * during a real two-party run of a plan with private weights. Security
 * properties checked against the transcript itself, not the code:
 *   1. no private weight appears in it (neither its float32 bytes nor its
 *      fixed-point ring encoding: 32-byte windows, far longer than chance);
 *   2. it is indistinguishable from uniform bytes (additive shares under fresh
 *      masks): a chi-square test of the byte histogram, for two different sets
 *      of server weights, at a threshold a uniform source exceeds with
 *      probability below 1e-9.
 * The handshake (public: plan hash, public-weight digest, nonce) is left out.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor, tensorHash, tensorBytes } from '../../ir/tensor.ts';
import type { Graph } from '../../ir/graph.ts';
import { readInputs } from '../../ir/tensor-json.ts';
import { loadModel, runPipeline } from '../../compiler/driver.ts';
import { readJsonOrFail } from '../../compiler/fs-util.ts';
import { planWeights } from '../../compiler/emit/bundle.ts';
import { loadBaseModel } from '../../compiler/onnx/base-model.ts';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { inProcessFeeds } from '../../runtime/dealer/feeds.ts';
import { channelPair } from '../../runtime/net/channel.ts';
import { makePlan } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { PartySession } from '../../runtime/session.ts';
import { CHI2_LIMIT, chiSquare, contains, secretWindows, tapReceived } from './scan.ts';

const FRAC = DEFAULT_FRAC_BITS;

/** The standard plan of gpt2/full (every weight private), with the weights scaled by `scale`. */
function standardPlan(scale: number): { graph: Graph; server: Map<string, Tensor> } {
  const loaded = loadModel('examples/gpt2/full.onnx');
  const scaled: Graph = {
    ...loaded,
    nodes: loaded.nodes.map((n) => {
      if (n.op !== 'weight' || !n.tensor || scale === 1) return n;
      const t = makeTensor(
        'f32',
        n.tensor.shape,
        (n.tensor.data as Float32Array).map((x) => x * scale),
      );
      return { ...n, tensor: t, attrs: { ...n.attrs, hash: tensorHash(t) } };
    }),
  };
  const { graph } = runPipeline(
    scaled,
    { ...DEFAULT_OPTIONS, noMarill: true },
    {},
    { network: NETWORKS.lan, fracBits: FRAC },
  );
  return { graph, server: new Map(planWeights(graph, ['public', 'server']).map((w) => [w.name, w.tensor])) };
}

async function clientTranscript(graph: Graph, server: Map<string, Tensor>): Promise<Uint8Array> {
  const plan = makePlan(graph, { fracBits: FRAC });
  const inputs = readInputs(graph, readJsonOrFail('examples/gpt2/input.json'), 'input.json');
  const [toServer, toClient] = channelPair(['server', 'client']);
  const log: Uint8Array[] = [];
  const [serverFeed, clientFeed] = inProcessFeeds(plan);
  const [s, c] = await Promise.all([
    PartySession.open({ plan, party: 'server', channel: toClient, feed: serverFeed, weights: server }),
    PartySession.open({
      plan,
      party: 'client',
      channel: tapReceived(toServer, log),
      feed: clientFeed,
      weights: new Map(planWeights(graph, ['public']).map((w) => [w.name, w.tensor])),
    }),
  ]);
  const handshake = log.length;
  try {
    await Promise.all([s.infer(new Map()), c.infer(inputs)]);
  } finally {
    s.close();
    c.close();
  }
  const messages = log.slice(handshake);
  const out = new Uint8Array(messages.reduce((n, m) => n + m.byteLength, 0));
  let at = 0;
  for (const m of messages) {
    out.set(m, at);
    at += m.byteLength;
  }
  return out;
}

describe("the client's transcript of a standard (all-private) plan", () => {
  const runs = [1, 1.5].map((scale) => ({ scale, ...standardPlan(scale) }));

  for (const run of runs) {
    it(`weights x${run.scale}: holds no private weight and looks uniform`, async () => {
      const transcript = await clientTranscript(run.graph, run.server);
      expect(transcript.length).toBeGreaterThan(100_000);
      for (const [name, w] of run.server) {
        if (w.data.length < 8) continue;
        for (const { what, bytes } of secretWindows(w, FRAC))
          expect(contains(transcript, bytes), `${what} of ${name}`).toBe(false);
      }
      expect(chiSquare(transcript)).toBeLessThan(CHI2_LIMIT);
    });
  }

  it('a Marill plan (gpt2 lora-merged against its base) likewise: no private weight, uniform', async () => {
    const base = loadBaseModel('examples/gpt2/base.onnx');
    const { graph } = runPipeline(
      loadModel('examples/gpt2/lora-merged.onnx'),
      { ...DEFAULT_OPTIONS, base },
      {},
      { network: NETWORKS.lan, fracBits: FRAC },
    );
    const server = new Map(planWeights(graph, ['public', 'server']).map((w) => [w.name, w.tensor]));
    const privateNames = new Set(planWeights(graph, ['server']).map((w) => w.name));
    expect(privateNames.size).toBeGreaterThan(0);
    const transcript = await clientTranscript(graph, server);
    for (const name of privateNames) {
      const w = server.get(name)!;
      if (w.data.length < 8) continue;
      expect(contains(transcript, tensorBytes(w).subarray(0, 32)), name).toBe(false);
    }
    expect(chiSquare(transcript)).toBeLessThan(CHI2_LIMIT);
  });

  it('the weight-window check does find a weight placed in a transcript (control)', async () => {
    const { graph, server } = runs[0]!;
    const transcript = await clientTranscript(graph, server);
    const [, w] = [...server].find(([, t]) => t.data.length >= 8)!;
    const raw = tensorBytes(w).subarray(0, 32);
    const spliced = new Uint8Array(transcript.length + raw.length);
    spliced.set(transcript.subarray(0, 1000));
    spliced.set(raw, 1000);
    spliced.set(transcript.subarray(1000), 1000 + raw.length);
    expect(contains(spliced, raw)).toBe(true);
  });

  it('the chi-square check does catch a non-uniform transcript (control)', () => {
    const biased = new Uint8Array(200_000);
    for (let i = 0; i < biased.length; i++) biased[i] = (i * 37) % 256 < 200 ? (i * 37) % 256 : 0;
    expect(chiSquare(biased)).toBeGreaterThan(CHI2_LIMIT);
  });
});
