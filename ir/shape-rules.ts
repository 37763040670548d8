/**
 * Shape rules shared by the op table: numpy broadcasting, axis normalisation,
 * and the small checks each rule needs. Each rule throws a MarillError whose
 * message says which operand is at fault; the caller adds the node location.
 */
import { MarillError } from './errors.ts';
import type { Shape } from './types.ts';
import { formatShape, numel } from './types.ts';

export function broadcastShapes(shapes: readonly Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      const cur = out[j]!;
      if (cur === 1) out[j] = d;
      else if (d !== 1 && d !== cur)
        throw new MarillError(`shapes ${shapes.map(formatShape).join(' and ')} do not broadcast`);
    }
  }
  return out;
}

/** Normalises a possibly negative axis against a rank; throws when out of range. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new MarillError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Resolves a reshape target (ONNX rules: 0 copies the input dim, one -1 is inferred). */
export function resolveReshape(input: Shape, target: readonly number[], allowZero = false): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? input[i]! : d));
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1) throw new MarillError(`reshape target ${formatShape(target)} has more than one -1`);
  const total = numel(input);
  if (unknown === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || total % known !== 0)
      throw new MarillError(`cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
    out[out.indexOf(-1)] = total / known;
  }
  if (numel(out) !== total)
    throw new MarillError(`cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
  return out;
}

export function reducedShape(input: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const set = new Set(axes.map((a) => normalizeAxis(a, input.length)));
  const out: number[] = [];
  input.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

export function matmulShape(a: Shape, b: Shape): number[] {
  if (a.length < 2 || b.length < 2)
    throw new MarillError(`matmul needs operands of rank >= 2, got ${formatShape(a)} and ${formatShape(b)}`);
  const m = a[a.length - 2]!;
  const k = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  const n = b[b.length - 1]!;
  if (k !== k2)
    throw new MarillError(`matmul inner dimensions differ: ${formatShape(a)} x ${formatShape(b)}`);
  const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)]);
  return [...batch, m, n];
}

/** Result of a normalised slice (starts/ends already clamped, steps non-zero). */
export function sliceShape(
  input: Shape,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
): number[] {
  const out = [...input];
  axes.forEach((axis, i) => {
    const a = normalizeAxis(axis, input.length);
    const step = steps[i]!;
    const len =
      step > 0 ? Math.ceil((ends[i]! - starts[i]!) / step) : Math.ceil((starts[i]! - ends[i]!) / -step);
    out[a] = Math.max(0, len);
  });
  return out;
}

export function checkPermutation(perm: readonly number[], rank: number): void {
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => p < 0 || p >= rank))
    throw new MarillError(`perm [${perm.join(',')}] is not a permutation of rank ${rank}`);
}

export function expandShape(input: Shape, target: readonly number[]): number[] {
  return broadcastShapes([input, target]);
}
