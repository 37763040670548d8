/**
 * Transcripts without a dealer (setting '2pc'): everything each party receives
 * from the other during a real run, preprocessing (OT extension, Gilboa
 * products, AND gates) and online phase together, after the handshake.
 *   1. the client's transcript holds no private weight (32-byte windows of its
 *      float32 and ring encodings) and its bytes look uniform (chi-square);
 *   2. the server's transcript holds no client input and looks uniform;
 *   3. the base OTs' group elements are the only structured bytes: they are
 *      left in, and the uniformity test still passes with them.
 * Controls: a weight spliced into a transcript is found (transcript.test.ts
 * holds the chi-square control).
 */
import { concatBytes } from '../../runtime/mpc/context.ts';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { loadModel, runPipeline } from '../../compiler/driver.ts';
import { planWeights } from '../../compiler/emit/bundle.ts';
import { readJsonOrFail } from '../../compiler/fs-util.ts';
import { loadBaseModel } from '../../compiler/onnx/base-model.ts';
import type { Graph } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorBytes } from '../../ir/tensor.ts';
import { readInputs } from '../../ir/tensor-json.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { channelPair } from '../../runtime/net/channel.ts';
import { makePlan } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { PartySession } from '../../runtime/session.ts';
import { dealerFreeFeeds } from '../../runtime/twopc/feed.ts';
import { CHI2_LIMIT, chiSquare, contains, secretWindows, tapReceived } from './scan.ts';

const FRAC = DEFAULT_FRAC_BITS;

interface Transcripts {
  readonly client: Uint8Array;
  readonly server: Uint8Array;
}

/** Both parties' received bytes after the handshake, one inference of `graph` in setting 2pc. */
async function transcripts(graph: Graph, inputs: Map<string, Tensor>): Promise<Transcripts> {
  const plan = makePlan(graph, { fracBits: FRAC, setting: '2pc' });
  const server = new Map(planWeights(graph, ['public', 'server']).map((w) => [w.name, w.tensor]));
  const client = new Map(planWeights(graph, ['public']).map((w) => [w.name, w.tensor]));
  const [toClient, toServer] = channelPair(['client', 'server']);
  const logs: [Uint8Array[], Uint8Array[]] = [[], []];
  const [serverFeed, clientFeed] = dealerFreeFeeds(plan);
  const [s, c] = await Promise.all([
    PartySession.open({
      plan,
      party: 'server',
      channel: tapReceived(toClient, logs[0]),
      feed: serverFeed,
      weights: server,
    }),
    PartySession.open({
      plan,
      party: 'client',
      channel: tapReceived(toServer, logs[1]),
      feed: clientFeed,
      weights: client,
    }),
  ]);
  const handshake = [logs[0].length, logs[1].length];
  try {
    await Promise.all([s.infer(new Map()), c.infer(inputs)]);
  } finally {
    s.close();
    c.close();
  }
  return {
    server: concatBytes(logs[0].slice(handshake[0])),
    client: concatBytes(logs[1].slice(handshake[1])),
  };
}

function compiled(model: string, base?: string, noMarill = false): Graph {
  return runPipeline(
    loadModel(model),
    { ...DEFAULT_OPTIONS, noMarill, ...(base ? { base: loadBaseModel(base) } : {}) },
    {},
    { network: NETWORKS.lan, fracBits: FRAC, setting: '2pc' },
  ).graph;
}

describe('transcripts without a dealer', () => {
  const cases = [
    {
      name: 'standard plan of gpt2/full (every weight private)',
      graph: compiled('examples/gpt2/full.onnx', undefined, true),
    },
    {
      name: 'Marill plan of gpt2/lora-merged against its base',
      graph: compiled('examples/gpt2/lora-merged.onnx', 'examples/gpt2/base.onnx'),
    },
  ];

  for (const { name, graph } of cases) {
    it(`${name}: the client sees no private weight, the server no input, both uniform`, async () => {
      const inputs = readInputs(graph, readJsonOrFail('examples/gpt2/input.json'), 'input.json');
      const t = await transcripts(graph, inputs);
      expect(t.client.length).toBeGreaterThan(100_000);
      expect(t.server.length).toBeGreaterThan(100_000);
      const privateWeights = planWeights(graph, ['server']);
      expect(privateWeights.length).toBeGreaterThan(0);
      for (const w of privateWeights) {
        if (w.tensor.data.length < 8) continue;
        for (const { what, bytes } of secretWindows(w.tensor, FRAC))
          expect(contains(t.client, bytes), `${what} of ${w.name}`).toBe(false);
      }
      // The inputs are token ids, shared as plain integers: their bytes are their ring encoding.
      for (const [input, x] of inputs) {
        expect(x.data.length).toBeGreaterThanOrEqual(4);
        expect(contains(t.server, tensorBytes(x).subarray(0, 32)), `input ${input}`).toBe(false);
      }
      expect(chiSquare(t.client)).toBeLessThan(CHI2_LIMIT);
      expect(chiSquare(t.server)).toBeLessThan(CHI2_LIMIT);
    });
  }
});
