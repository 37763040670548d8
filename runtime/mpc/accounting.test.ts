// Combining the two parties' records: each byte counted once, rounds agreed.
import { describe, expect, it } from 'vitest';
import { PartyAccounting, combineReports, roundMismatches } from './accounting.ts';

describe('accounting', () => {
  it('adds online bytes by sender and offline bytes by receiver, once each', () => {
    const server = new PartyAccounting('server');
    const client = new PartyAccounting('client');
    Object.assign(server.op('1', 'matmul', 'beaver'), {
      bytesSent: 100,
      rounds: 2,
      offlineBytes: 0,
      runs: 1,
    });
    Object.assign(client.op('1', 'matmul', 'beaver'), {
      bytesSent: 30,
      rounds: 2,
      offlineBytes: 64,
      runs: 1,
    });
    Object.assign(server.op('2', 'reveal', 'reveal'), { bytesSent: 8, rounds: 1, runs: 1, setupRounds: 1 });
    Object.assign(client.op('2', 'reveal', 'reveal'), {
      bytesSent: 0,
      rounds: 1,
      runs: 1,
      setupBytesSent: 5,
      setupRounds: 1,
    });
    const r = combineReports(server.list(), client.list());
    expect(r.ops[0]).toMatchObject({ onlineBytes: [100, 30], offlineBytes: [0, 64], rounds: 2 });
    expect(r.totals).toEqual({
      onlineBytes: 138,
      offlineBytes: 64,
      setupBytes: 5,
      rounds: 3,
      setupRounds: 1,
      preprocessBytes: 0,
      preprocessRounds: 0,
    });
    expect(roundMismatches(server.list(), client.list())).toEqual([]);
    client.op('2', 'reveal', 'reveal').rounds = 2;
    expect(roundMismatches(server.list(), client.list())).toEqual(['2']);
  });

  it('without a dealer: preprocessing bytes by sender, flights agreed at both parties', () => {
    const server = new PartyAccounting('server');
    const client = new PartyAccounting('client');
    Object.assign(server.op('1', 'matmul', 'beaver'), {
      preprocessBytesSent: 700,
      preprocessBytesReceived: 300,
      preprocessRounds: 3,
    });
    Object.assign(client.op('1', 'matmul', 'beaver'), {
      preprocessBytesSent: 300,
      preprocessBytesReceived: 700,
      preprocessRounds: 3,
    });
    const r = combineReports(server.list(), client.list());
    expect(r.ops[0]).toMatchObject({ preprocessBytes: [700, 300], preprocessRounds: 3 });
    expect(r.totals).toMatchObject({ preprocessBytes: 1000, preprocessRounds: 3 });
    expect(roundMismatches(server.list(), client.list())).toEqual([]);
    client.op('1', 'matmul', 'beaver').preprocessRounds = 4;
    expect(roundMismatches(server.list(), client.list())).toEqual(['1']);
  });
});
