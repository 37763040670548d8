import { describe, expect, it } from 'vitest';
import { makePlan } from '../plan.ts';
import { SMALL_LAYER, bertEncoderLayer } from '../../test/runtime/layers.ts';
import { PlanDealer } from './feeds.ts';
import { freshSeeds } from './streams.ts';

const plan = makePlan(bertEncoderLayer({ ...SMALL_LAYER, seed: 3 }));

describe('PlanDealer run-ahead', () => {
  it('deals the next inference before it is asked for, and hands out exactly what it dealt', async () => {
    const seeds = [freshSeeds(), freshSeeds()] as const;
    const ahead = new PlanDealer(plan, seeds);
    ahead.dealAhead();
    ahead.dealAhead(); // already dealing: no second inference
    const server = await ahead.nextFramesFor('server');
    expect(ahead.dealt).toBe(1);
    // The client's frames of that inference are waiting: no new dealing, and no run-ahead yet.
    ahead.dealAhead();
    const client = await ahead.nextFramesFor('client');
    expect(ahead.dealt).toBe(1);
    // Dealing is deterministic in the seeds: the same frames as dealing on request.
    const [s0, c0] = new PlanDealer(plan, seeds).dealInference();
    expect(server).toEqual(s0);
    expect(client).toEqual(c0);
    expect(server).toHaveLength(ahead.opCount);
  });

  it('deals nothing more once stopped', async () => {
    const dealer = new PlanDealer(plan);
    dealer.stop();
    dealer.dealAhead();
    await new Promise((r) => setTimeout(r, 20));
    expect(dealer.dealt).toBe(0);
  });
});
