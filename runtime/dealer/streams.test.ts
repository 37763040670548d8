// Seed-compressed dealer material: what each party can derive costs nothing, corrections go to the
// client only, the shares reconstruct the dealer's values, and a protocol whose material reads do
// not match its deal is caught.
import { describe, expect, it } from 'vitest';
import { ringAdd } from '../ring/kernels.ts';
import { Dealer, MaterialSource, freshSeeds } from './streams.ts';

function setup() {
  const seeds = [freshSeeds(), freshSeeds()] as const;
  return {
    dealer: new Dealer(seeds),
    server: new MaterialSource('server', seeds[0]),
    client: new MaterialSource('client', seeds[1]),
  };
}

describe('dealer streams', () => {
  it('shares reconstruct the dealer values; only corrections are sent, all to the client', () => {
    const { dealer, server, client } = setup();
    const d = dealer.forOp('op');
    const r = d.sharedRandom(5);
    const v = BigInt64Array.of(1n, -2n, 3n, 1n << 62n, -1n);
    d.share(v);
    const owned = d.ownedRandom('client', 3);
    const sessionB = d.sessionOwnedRandom('server', 'B', 4);
    const xr = d.sharedRandomBytes(6);
    d.shareBytes(Uint8Array.of(9, 8, 7));
    d.send('server', Uint8Array.of(42));
    const [f0, f1] = dealer.takeFrames();
    expect(f0.byteLength).toBe(1); // the raw key only
    expect(f1.byteLength).toBe(5 * 8 + 3); // ring correction + byte correction
    const s = server.forOp('op', f0);
    const c = client.forOp('op', f1);
    expect([...ringAdd(s.sharedRandom(5), c.sharedRandom(5))]).toEqual([...r]);
    expect([...ringAdd(s.share(5), c.share(5))]).toEqual([...v]);
    expect(s.ownedRandom('client', 3)).toBeUndefined();
    expect([...c.ownedRandom('client', 3)!]).toEqual([...owned]);
    expect([...s.sessionOwnedRandom('server', 'B', 4)!]).toEqual([...sessionB]);
    expect(c.sessionOwnedRandom('server', 'B', 4)).toBeUndefined();
    const xs = s.sharedRandomBytes(6);
    const xc = c.sharedRandomBytes(6);
    expect(xs.map((b, i) => b ^ xc[i]!)).toEqual(xr);
    const bs = s.shareBytes(3);
    const bc = c.shareBytes(3);
    expect([...bs.map((b, i) => b ^ bc[i]!)]).toEqual([9, 8, 7]);
    expect([...s.receive('server', 1)!]).toEqual([42]);
    expect(c.receive('server', 1)).toBeUndefined();
    s.finish();
    c.finish();
  });

  it('session-fixed values are the same every inference; stream values are fresh', () => {
    const { dealer } = setup();
    const a = dealer.forOp('op');
    const first = [a.sessionOwnedRandom('server', 'B', 4), a.ownedRandom('server', 4)];
    const b = dealer.forOp('op');
    const second = [b.sessionOwnedRandom('server', 'B', 4), b.ownedRandom('server', 4)];
    expect([...second[0]!]).toEqual([...first[0]!]);
    expect([...second[1]!]).not.toEqual([...first[1]!]);
    expect([...dealer.forOp('other').sessionOwnedRandom('server', 'B', 4)]).not.toEqual([...first[0]!]);
  });

  it('a party that reads more or less than was dealt is caught', () => {
    const { dealer, client } = setup();
    dealer.forOp('op').share(new BigInt64Array(2));
    const [, f1] = dealer.takeFrames();
    const over = client.forOp('op', f1);
    expect(() => over.share(3)).toThrow(/protocol reads more/);
    const under = client.forOp('op', f1);
    under.share(1);
    expect(() => under.finish()).toThrow(/the protocol read 8/);
  });
});
