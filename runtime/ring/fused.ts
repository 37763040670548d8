/**
 * Fused ring kernels for the comparison-based protocols: each replaces a chain of elementwise
 * ring operations (./kernels.ts) by one pass in WebAssembly, so its operands are copied into
 * kernel memory once and only its results are copied out. Copies and fresh result arrays, not
 * the arithmetic, dominate the chained form (docs/performance.md). Same results, word for word,
 * as the chains they replace (./fused.test.ts checks them against BigInt arithmetic).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Ring } from './kernels.ts';
import { arena, i64View, putI64, scoped, takeI64, wasm } from './wasm-runtime.ts';

/** Copies a bit vector (lane i at bit i & 31 of word i >> 5) into fresh arena space. */
function putBits(v: Uint32Array): number {
  const p = arena.alloc(v.byteLength);
  new Uint32Array(arena.bytes(), p, v.length).set(v);
  return p;
}

export interface SignCombineInputs {
  /** Elements per plane. */
  readonly n: number;
  /** Planes (thresholds); the lanes are planes x n, plane-major. */
  readonly planes: number;
  /** The opened bit e of every lane, as a bit vector. */
  readonly e: Uint32Array;
  /** Shares of the dealer's bit rho of every lane (ring 0/1 sharing). */
  readonly rho: Ring;
  /** The public bit a of every lane (ring 0/1). */
  readonly a: Ring;
  /** Party 0 adds the public terms. */
  readonly first: boolean;
  /** With `select`: shares of rho r per lane, r (this party's mask share per element), x and the opened x^. */
  readonly select?: { readonly rhoR: Ring; readonly r: Ring; readonly x: Ring; readonly xhat: Ring };
}

/**
 * Per lane i = k n + j: z = (1 - 2e) rho + [first] e (the share of the lane's comparison bit
 * before the public flip), lt = (1 - 2a) z + [first] a; with `select` also
 * zr = (1 - 2e) rhoR + e r_j and ltx = (1 - 2a)(z xhat_j - zr) + a x_j.
 */
export function ringSignCombine(inp: SignCombineInputs): { lt: Ring; ltx: Ring | undefined } {
  const { n, planes, e, rho, a, select } = inp;
  const lanes = n * planes;
  if (rho.length !== lanes || a.length !== lanes || e.length < Math.ceil(lanes / 32))
    throw new MarillError(`ring sign combine: operands do not hold ${planes} planes of ${n} lanes`);
  if (
    select &&
    (select.rhoR.length !== lanes ||
      select.r.length !== n ||
      select.x.length !== n ||
      select.xhat.length !== n)
  )
    throw new MarillError(`ring sign combine: select operands do not hold ${n} elements`);
  return scoped(() => {
    const pe = putBits(e);
    const prho = putI64(rho);
    const pa = putI64(a);
    const sel = select
      ? { rhoR: putI64(select.rhoR), r: putI64(select.r), x: putI64(select.x), xhat: putI64(select.xhat) }
      : { rhoR: 0, r: 0, x: 0, xhat: 0 };
    // Results overwrite rho (and rhoR) in place: each lane reads its own word before writing it.
    const pltx = select ? sel.rhoR : 0;
    wasm().k.sign_combine(
      prho,
      pltx,
      pe,
      prho,
      sel.rhoR,
      sel.r,
      pa,
      sel.x,
      sel.xhat,
      n,
      planes,
      inp.first ? 1 : 0,
      select ? 1 : 0,
    );
    return { lt: takeI64(prho, lanes), ltx: select ? takeI64(pltx, lanes) : undefined };
  });
}

/**
 * out_j = sum_k c_k u_{k n + j} + d_k v_{k n + j}, for each of several coefficient sets
 * ([c_k, d_k] per plane k): one result of n elements per set, u and v copied in once.
 */
export function ringPlaneCombine(
  u: Ring,
  v: Ring,
  n: number,
  sets: readonly (readonly (readonly [bigint, bigint])[])[],
): Ring[] {
  const planes = n === 0 ? 0 : u.length / n;
  if (u.length !== v.length || !Number.isInteger(planes))
    throw new MarillError(
      `ring plane combine: operands of ${u.length} and ${v.length} words, planes of ${n}`,
    );
  for (const c of sets)
    if (c.length !== planes)
      throw new MarillError(`ring plane combine: ${c.length} coefficient pairs for ${planes} planes`);
  return scoped(() => {
    const pu = putI64(u);
    const pv = putI64(v);
    const pc = arena.alloc(16 * planes);
    const po = arena.alloc(8 * n);
    return sets.map((c) => {
      const coef = i64View(pc, 2 * planes);
      c.forEach(([cu, cv], k) => {
        coef[2 * k] = BigInt.asIntN(64, cu);
        coef[2 * k + 1] = BigInt.asIntN(64, cv);
      });
      wasm().k.plane_combine(po, pu, pv, pc, n, planes);
      return takeI64(po, n);
    });
  });
}

/**
 * The public parts of comparing the opened x^ with each threshold t_k, planes of n lanes:
 * with v = (x^ - t_k) >> drop (logical), a = bit m - 1 of v and y = v mod 2^(m-1).
 */
export function ringOpenedParts(
  xhat: Ring,
  thresholds: readonly bigint[],
  drop: number,
  m: number,
): { a: Ring; y: Ring } {
  if (!Number.isInteger(drop) || !Number.isInteger(m) || drop < 0 || m < 2 || drop + m > 64)
    throw new MarillError(`ring opened parts: width ${m} bits dropping ${drop} is outside 64 bits`);
  const n = xhat.length;
  const lanes = n * thresholds.length;
  return scoped(() => {
    const px = putI64(xhat);
    const pt = putI64(BigInt64Array.from(thresholds, (t) => BigInt.asIntN(64, t)));
    const pa = arena.alloc(8 * lanes);
    const py = arena.alloc(8 * lanes);
    wasm().k.opened_parts(pa, py, px, pt, n, thresholds.length, BigInt(drop), BigInt(m));
    return { a: takeI64(pa, lanes), y: takeI64(py, lanes) };
  });
}

/**
 * A truncation by `bits` after c is opened (runtime/protocols/truncate.ts derives it), from the
 * mask's shares msb and rHi: weight = (1 - msb(c)) 2^(64 - bits), a = msb weight - rHi and
 * e = (c >>> bits) + add. `share` gives this party's a + [lead] e alone.
 */
export function ringTruncOpened(
  c: Ring,
  msb: Ring,
  rHi: Ring,
  bits: number,
  add: bigint,
): { e: Ring; a: Ring; weight: Ring } {
  const [e, a, weight] = truncKernel(c, msb, rHi, bits, add, { full: true }) as [Ring, Ring, Ring];
  return { e, a, weight };
}

export function ringTruncatedShare(
  c: Ring,
  msb: Ring,
  rHi: Ring,
  bits: number,
  add: bigint,
  lead: boolean,
): Ring {
  return truncKernel(c, msb, rHi, bits, add, { full: false, lead })[0]!;
}

function truncKernel(
  c: Ring,
  msb: Ring,
  rHi: Ring,
  bits: number,
  add: bigint,
  mode: { full: true } | { full: false; lead: boolean },
): Ring[] {
  const n = c.length;
  if (msb.length !== n || rHi.length !== n)
    throw new MarillError(`ring truncation: operands of ${n}, ${msb.length} and ${rHi.length} elements`);
  if (!Number.isInteger(bits) || bits < 1 || bits > 63)
    throw new MarillError(`ring truncation by ${bits} bits is out of range`);
  return scoped(() => {
    const pc = putI64(c);
    const pm = putI64(msb);
    const pr = putI64(rHi);
    const lead = !mode.full && mode.lead ? 1 : 0;
    // Results overwrite the operands in place: each element reads its words before writing.
    wasm().k.trunc_opened(
      pc,
      pr,
      pm,
      pc,
      pm,
      pr,
      n,
      BigInt(bits),
      BigInt.asIntN(64, add),
      mode.full ? 1 : 0,
      lead,
    );
    return mode.full ? [takeI64(pc, n), takeI64(pr, n), takeI64(pm, n)] : [takeI64(pr, n)];
  });
}
