// planMessageBound: no message of a real run (party to party, setup included, or dealer frame)
// exceeds it, so channels limited to it never refuse an honest peer; and it is far below the
// old fixed limit of 1 GiB.
import { describe, expect, it } from 'vitest';
import { SMALL_LAYER, bertEncoderLayer, layerInput, layerWeights } from '../test/runtime/layers.ts';
import { planMessageBound } from './bound-plan.ts';
import type { MaterialFeed } from './dealer/feeds.ts';
import { inProcessFeeds } from './dealer/feeds.ts';
import type { Channel } from './net/channel.ts';
import { channelPair } from './net/channel.ts';
import { HELLO_MAX_BYTES } from './net/handshake.ts';
import { makePlan } from './plan.ts';
import { PartySession } from './session.ts';

/** Records the size of every message sent through `inner`. */
function measured(inner: Channel, sizes: number[]): Channel {
  return {
    peer: inner.peer,
    send: (d) => {
      sizes.push(d.byteLength);
      inner.send(d);
    },
    recv: () => inner.recv(),
    close: () => inner.close(),
    setMessageLimit: (n) => inner.setMessageLimit(n),
  };
}

/** Records the size of every dealer frame a party takes. */
function measuredFeed(inner: MaterialFeed, sizes: number[]): MaterialFeed {
  return {
    seeds: inner.seeds,
    tag: inner.tag,
    reserve: (index) => inner.reserve(index),
    begin: (index) => inner.begin(index),
    next: async () => {
      const f = await inner.next();
      sizes.push(f.byteLength);
      return f;
    },
    close: () => inner.close(),
  };
}

describe('planMessageBound', () => {
  it('bounds every message of a run with nonlinear ops (and the limit is enforced during it)', async () => {
    const layer = { ...SMALL_LAYER, seed: 31 };
    const graph = bertEncoderLayer(layer);
    const plan = makePlan(graph);
    const bound = planMessageBound(plan);
    const sizes: number[] = [];
    const [toClient, toServer] = channelPair(['client', 'server']);
    const [serverFeed, clientFeed] = inProcessFeeds(plan);
    const [server, client] = await Promise.all([
      PartySession.open({
        plan,
        party: 'server',
        channel: measured(toClient, sizes),
        feed: measuredFeed(serverFeed, sizes),
        weights: layerWeights(graph, 'server'),
      }),
      PartySession.open({
        plan,
        party: 'client',
        channel: measured(toServer, sizes),
        feed: measuredFeed(clientFeed, sizes),
        weights: layerWeights(graph, 'client'),
      }),
    ]);
    try {
      for (let i = 0; i < 2; i++)
        await Promise.all([
          server.infer(new Map()),
          client.infer(new Map([['hidden_in', layerInput(layer, i)]])),
        ]);
    } finally {
      server.close();
      client.close();
    }
    const largest = Math.max(...sizes);
    expect(largest).toBeGreaterThan(HELLO_MAX_BYTES); // the run does send messages past the hello bound
    expect(largest).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(1 << 24);
  });

  it('a channel limited to the bound refuses a message one byte longer', async () => {
    const plan = makePlan(bertEncoderLayer({ ...SMALL_LAYER, seed: 32, nonlinear: false }));
    const bound = planMessageBound(plan);
    const [a, b] = channelPair(['client', 'server']);
    b.setMessageLimit(bound);
    a.send(new Uint8Array(bound));
    expect((await b.recv()).byteLength).toBe(bound);
    a.send(new Uint8Array(bound + 1));
    await expect(b.recv()).rejects.toThrow(new RegExp(`sent a ${bound + 1}-byte message, over the limit`));
  });
});
