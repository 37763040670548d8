/**
 * Bit expansions in WebAssembly: XOR sums of AND products of bit vectors (32 lanes per word), the
 * local work of the boolean comparison's tree (runtime/protocols/nonlinear/compare-bool.ts). An
 * expansion is a table of AND products built entry by entry (each entry one earlier entry AND
 * one operand, possibly complemented) and terms that XOR (table entry AND operand) into outputs.
 * The words are processed in blocks so the table of a block stays in cache; the kernel
 * (`bit_expand` in ./kernels-wasm.ts) works 128 bits at a time.
 */
import { MarillError } from '../../ir/errors.ts';
import { arena, scoped, wasm } from './wasm-runtime.ts';

/**
 * An operand: a vector read at the block's word (`lane`: word w of the lanes), one read modulo
 * the period (`periodic`: word w mod period), or all ones.
 */
export type BitOperand = { readonly lane: number } | { readonly periodic: number } | 'ones';

export interface BitExpansion {
  /** Words of the lanes (of every output and `lane` vector). */
  readonly width: number;
  /** Words of each `periodic` vector; a block never crosses a multiple of it. */
  readonly period: number;
  readonly lane: readonly Uint32Array[];
  readonly periodic: readonly Uint32Array[];
  /** Entry k = (entry `parent`, or all ones for -1) AND (source, complemented with `invert`). */
  readonly entries: readonly {
    readonly parent: number;
    readonly source: BitOperand;
    readonly invert: boolean;
  }[];
  /** outs[out] ^= (entry, or all ones for -1) AND source. */
  readonly terms: readonly { readonly entry: number; readonly source: BitOperand; readonly out: number }[];
}

/** Words per block: a table of 64 entries takes 128 KiB. */
const BLOCK = 512;

function putWords(v: Uint32Array): number {
  const p = arena.alloc(v.byteLength);
  new Uint32Array(arena.bytes(), p, v.length).set(v);
  return p;
}

/** Evaluates `e`, XORing its terms into `outs` (each of `e.width` words) in place. */
export function bitExpand(e: BitExpansion, outs: readonly Uint32Array[]): void {
  const { width, period } = e;
  if (e.lane.some((v) => v.length < width) || outs.some((v) => v.length < width))
    throw new MarillError(`bit expansion: a lane vector or output is shorter than ${width} words`);
  if (e.periodic.length > 0 && (!(period > 0) || e.periodic.some((v) => v.length < period)))
    throw new MarillError(`bit expansion: a periodic vector is shorter than its period ${period}`);
  scoped(() => {
    const ones = putWords(new Uint32Array(BLOCK).fill(0xffffffff));
    const lane = e.lane.map((v) => putWords(v.subarray(0, width)));
    const periodic = e.periodic.map((v) => putWords(v.subarray(0, period)));
    const out = outs.map((v) => putWords(v.subarray(0, width)));
    const table = arena.alloc(e.entries.length * BLOCK * 4);
    // [base, kind]: kind 0 read at the block's word, 1 at the word modulo the period, 2 as is.
    const operand = (o: BitOperand): [number, number] => {
      if (o === 'ones') return [ones, 2];
      if ('lane' in o) return [lane[o.lane]!, 0];
      return [periodic[o.periodic]!, 1];
    };
    const entryAt = (k: number) => (k < 0 ? ones : table + k * BLOCK * 4);
    const ents = arena.alloc(16 * e.entries.length);
    const entView = new Int32Array(arena.bytes(), ents, 4 * e.entries.length);
    e.entries.forEach((en, k) => {
      if (en.parent >= k) throw new MarillError(`bit expansion: entry ${k} reads a later entry`);
      entView.set([entryAt(en.parent), ...operand(en.source), en.invert ? -1 : 0], 4 * k);
    });
    const terms = arena.alloc(16 * e.terms.length);
    const termView = new Int32Array(arena.bytes(), terms, 4 * e.terms.length);
    e.terms.forEach((t, q) => termView.set([entryAt(t.entry), ...operand(t.source), out[t.out]!], 4 * q));
    const k = wasm().k;
    for (let w0 = 0, len = 0; w0 < width; w0 += len) {
      const s0 = e.periodic.length > 0 ? w0 % period : 0;
      len = Math.min(BLOCK, width - w0, e.periodic.length > 0 ? period - s0 : BLOCK);
      k.bit_expand(table, BLOCK * 4, ents, e.entries.length, terms, e.terms.length, 4 * w0, 4 * s0, len);
    }
    outs.forEach((v, t) => v.set(new Uint32Array(arena.bytes(), out[t]!, width)));
  });
}
