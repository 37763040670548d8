// Plans of setting '2pc' run by both parties alone (no dealer), in one process: outputs against the
// plaintext interpreter, every op's online and preprocessing traffic against the prediction, the
// session's weight masks reused across inferences, and faults during preprocessing.
import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { expectPlanCosts } from '../../test/runtime/expect-cost.ts';
import {
  SMALL_LAYER,
  bertEncoderLayer,
  gptDecoderLayer,
  layerInput,
  layerWeights,
} from '../../test/runtime/layers.ts';
import { bindPlan } from '../bound-plan.ts';
import type { Channel } from '../net/channel.ts';
import { channelPair } from '../net/channel.ts';
import { makePlan } from '../plan.ts';
import { PartySession, simulatePlan } from '../session.ts';
import { dealerFreeFeeds } from './feed.ts';

const TOLERANCE = 1e-2;

function plaintext(g: Graph, x: Tensor): Tensor {
  return interpret(g, new Map([[g.inputs[0]!, x]])).get(g.outputs[0]!.name)!;
}

describe('a plan without a dealer', () => {
  for (const [name, build] of [
    ['bert layer', bertEncoderLayer],
    ['gpt layer', gptDecoderLayer],
  ] as const) {
    it(`${name}: outputs as plaintext, traffic as predicted op by op, over two inferences`, async () => {
      const opts = { ...SMALL_LAYER, seed: 31 };
      const g = build(opts);
      const plan = makePlan(g, { setting: '2pc' });
      const ops = bindPlan(plan);
      expect(ops.some((o) => o.correlations.length > 0)).toBe(true);
      const x = layerInput(opts, 5);
      const { outputs, report } = await simulatePlan(
        plan,
        { server: layerWeights(g, 'server'), client: layerWeights(g, 'client') },
        { client: new Map([[g.inputs[0]!, x]]) },
        { inferences: 2 },
      );
      const got = outputs.get(g.outputs[0]!.name)!;
      expect(tensorMaxAbsDiff(got, plaintext(g, x))).toBeLessThan(TOLERANCE);
      expect(report.totals.offlineBytes).toBe(0);
      expect(report.totals.preprocessBytes).toBeGreaterThan(0);
      expectPlanCosts(report, plan, 2);
    });
  }

  it('a server gone during preprocessing ends the client with a one-line error', async () => {
    const opts = { ...SMALL_LAYER, seed: 32 };
    const g = bertEncoderLayer(opts);
    const plan = makePlan(g, { setting: '2pc' });
    const [toClient, toServer] = channelPair(['client', 'server']);
    // The server's side closes after it has sent a few messages past the handshake (inside the OT setup).
    let sent = 0;
    const leaving: Channel = {
      ...toClient,
      send: (d) => {
        if (++sent === 6) {
          toClient.close();
          return;
        }
        toClient.send(d);
      },
      recv: () => toClient.recv(),
      close: () => toClient.close(),
      setMessageLimit: (n) => toClient.setMessageLimit(n),
    };
    const [serverFeed, clientFeed] = dealerFreeFeeds(plan);
    const [s, c] = await Promise.all([
      PartySession.open({
        plan,
        party: 'server',
        channel: leaving,
        feed: serverFeed,
        weights: layerWeights(g, 'server'),
      }),
      PartySession.open({
        plan,
        party: 'client',
        channel: toServer,
        feed: clientFeed,
        weights: layerWeights(g, 'client'),
      }),
    ]);
    const x = layerInput(opts, 1);
    const [, client] = await Promise.allSettled([s.infer(new Map()), c.infer(new Map([[g.inputs[0]!, x]]))]);
    s.close();
    c.close();
    expect(client.status).toBe('rejected');
    const e = (client as PromiseRejectedResult).reason as unknown;
    expect(e).toBeInstanceOf(MarillError);
    expect((e as Error).message).not.toContain('\n');
    expect((e as Error).message).toMatch(/^preprocessing without a dealer, in .*closed/);
  });
});
