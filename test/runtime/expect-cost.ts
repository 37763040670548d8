/**
 * Test assertions of the cost model's promise, measured == predicted exactly: for one protocol
 * run in a two-party session, and op by op for a whole plan run over several inferences
 * (online and offline costs once per inference, setup once per session).
 */
import { expect } from 'vitest';
import { planCosts } from '../../runtime/bound-plan.ts';
import type { RunReport } from '../../runtime/mpc/accounting.ts';
import type { Plan } from '../../runtime/plan.ts';
import type { Cost } from '../../runtime/protocol.ts';
import { OT_SETUP_ID } from '../../runtime/twopc/feed.ts';
import { otSessionSetupCost } from '../../runtime/twopc/triples.ts';
import type { TwoPartySession } from './two-party.ts';

/** The accounting of `opId` in `s` equals `c` for `runs` runs. */
export function expectMeasuredCost(s: TwoPartySession, opId: string, c: Cost, runs = 1): void {
  const r = s.stats(opId);
  expect(r.onlineBytes).toEqual([c.onlineBytes[0] * runs, c.onlineBytes[1] * runs]);
  expect(r.rounds).toBe(c.rounds * runs);
  expect(r.offlineBytes).toEqual([c.offlineBytes[0] * runs, c.offlineBytes[1] * runs]);
  expect(r.setupBytes).toEqual([...c.setupBytes]);
  expect(r.setupRounds).toBe(c.setupRounds);
}

/**
 * Every op of `report` (a run of `plan` over `inferences` inferences) measured as predicted; in
 * setting '2pc' also each op's preprocessing, and the session's base OTs (pseudo-op `ot-setup`).
 */
export function expectPlanCosts(report: RunReport, plan: Plan, inferences: number): void {
  const predicted = new Map(planCosts(plan).map((c) => [c.id, c.cost]));
  if (plan.setting === '2pc') {
    const setup = otSessionSetupCost();
    const ot = report.ops.find((o) => o.id === OT_SETUP_ID);
    expect(ot?.setupBytes, OT_SETUP_ID).toEqual([...setup.bytes]);
    expect(ot?.setupRounds, OT_SETUP_ID).toBe(setup.flights);
  }
  expect(report.ops.filter((o) => o.id !== OT_SETUP_ID).map((o) => o.id)).toEqual([...predicted.keys()]);
  for (const op of report.ops) {
    if (op.id === OT_SETUP_ID) continue;
    const c = predicted.get(op.id)!;
    expect(op.preprocessBytes, op.id).toEqual([
      inferences * c.preprocessBytes[0],
      inferences * c.preprocessBytes[1],
    ]);
    expect(op.preprocessRounds, op.id).toBe(inferences * c.preprocessRounds);
    expect(op.onlineBytes, op.id).toEqual([inferences * c.onlineBytes[0], inferences * c.onlineBytes[1]]);
    expect(op.rounds, op.id).toBe(inferences * c.rounds);
    expect(op.offlineBytes, op.id).toEqual([inferences * c.offlineBytes[0], inferences * c.offlineBytes[1]]);
    expect(op.setupBytes, op.id).toEqual(c.setupBytes);
    expect(op.setupRounds, op.id).toBe(c.setupRounds);
  }
}
