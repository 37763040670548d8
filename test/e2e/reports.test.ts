/**
 * The comparison the end-to-end tests rely on must be able to fail: hand-made
 * reports that differ from a prediction in one way each are caught.
 */
import { describe, expect, it } from 'vitest';
import type { OpCounts, PartyMeasured, PredictedCost } from './reports.ts';
import { costDisagreements } from './reports.ts';

const op = (id: string, counts: Partial<OpCounts> = {}): OpCounts => ({
  id,
  op: 'matmul',
  protocol: 'beaver',
  online_bytes: 0,
  offline_bytes: 0,
  rounds: 0,
  setup_bytes: 0,
  setup_rounds: 0,
  preprocess_bytes: 0,
  preprocess_rounds: 0,
  ...counts,
});

function totals(ops: readonly OpCounts[]) {
  const sum = (k: keyof Omit<OpCounts, 'id' | 'op' | 'protocol'>) => ops.reduce((s, o) => s + o[k], 0);
  return {
    online_bytes: sum('online_bytes'),
    offline_bytes: sum('offline_bytes'),
    rounds: sum('rounds'),
    setup_bytes: sum('setup_bytes'),
    setup_rounds: sum('setup_rounds'),
    preprocess_bytes: sum('preprocess_bytes'),
    preprocess_rounds: sum('preprocess_rounds'),
  };
}

const predicted = (ops: OpCounts[]): PredictedCost => ({
  setting: '2pc-dealer',
  network: 'lan',
  total: { ...totals(ops), est_seconds: 0 },
  ops,
});

const party = (name: string, ops: OpCounts[]): PartyMeasured => ({
  party: name,
  total: { ...totals(ops), seconds: 0 },
  ops,
});

// Two ops: 100 + 60 online bytes, 40 + 20 offline, 2 and 1 rounds.
const PREDICTED = predicted([
  op('1', { online_bytes: 160, offline_bytes: 60, rounds: 2 }),
  op('2', { online_bytes: 8, rounds: 1, setup_bytes: 16, setup_rounds: 1 }),
]);
const SERVER = [
  op('1', { online_bytes: 100, offline_bytes: 40, rounds: 2 }),
  op('2', { online_bytes: 4, rounds: 1, setup_bytes: 16, setup_rounds: 1 }),
];
const CLIENT = [
  op('1', { online_bytes: 60, offline_bytes: 20, rounds: 2 }),
  op('2', { online_bytes: 4, rounds: 1, setup_rounds: 1 }),
];

describe('costDisagreements', () => {
  it('accepts measures whose sums over the parties equal the prediction', () => {
    expect(costDisagreements(PREDICTED, party('server', SERVER), party('client', CLIENT))).toEqual([]);
  });

  it('names an op whose bytes differ, and the total', () => {
    const client = CLIENT.map((o) => (o.id === '1' ? { ...o, online_bytes: 61 } : o));
    const found = costDisagreements(PREDICTED, party('server', SERVER), party('client', client));
    expect(found).toEqual([
      '%1 matmul (beaver): online_bytes predicted 160, measured 100 + 61',
      'total online_bytes predicted 168, measured 104 + 65',
    ]);
  });

  it('names an op whose rounds differ at one party even when the other matches', () => {
    const server = SERVER.map((o) => (o.id === '2' ? { ...o, rounds: 2 } : o));
    const found = costDisagreements(PREDICTED, party('server', server), party('client', CLIENT));
    expect(found[0]).toBe('%2 matmul (beaver): rounds predicted 1, server 2, client 1');
  });

  it('without a dealer, names an op whose preprocessing bytes or flights differ', () => {
    const pre = (ops: OpCounts[], bytes: number) =>
      ops.map((o) => (o.id === '1' ? { ...o, preprocess_bytes: bytes, preprocess_rounds: 3 } : o));
    const predictedPre = predicted(pre(PREDICTED.ops.slice(), 1000));
    const server = pre(SERVER, 600);
    expect(
      costDisagreements(predictedPre, party('server', server), party('client', pre(CLIENT, 400))),
    ).toEqual([]);
    const found = costDisagreements(predictedPre, party('server', server), party('client', pre(CLIENT, 399)));
    expect(found[0]).toBe('%1 matmul (beaver): preprocess_bytes predicted 1000, measured 600 + 399');
    const slow = CLIENT.map((o) =>
      o.id === '1' ? { ...o, preprocess_bytes: 400, preprocess_rounds: 4 } : o,
    );
    expect(costDisagreements(predictedPre, party('server', server), party('client', slow))[0]).toBe(
      '%1 matmul (beaver): preprocess_rounds predicted 3, server 3, client 4',
    );
  });

  it('names ops measured but not predicted, predicted but not measured, and another protocol', () => {
    const extra = [...SERVER, op('3')];
    expect(costDisagreements(PREDICTED, party('server', extra), party('client', CLIENT))).toContain(
      '%3: measured but not predicted',
    );
    const missing = costDisagreements(
      PREDICTED,
      party('server', SERVER.slice(0, 1)),
      party('client', CLIENT.slice(0, 1)),
    );
    expect(missing).toContain('%2 matmul: predicted but measured by neither party');
    const other = CLIENT.map((o) => ({ ...o, protocol: 'dcf' }));
    expect(costDisagreements(PREDICTED, party('server', SERVER), party('client', other))).toContain(
      '%1 matmul (beaver): ran with protocol dcf',
    );
  });
});
