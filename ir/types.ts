/**
 * Core IR types: element types, static shapes, visibility and placement.
 *
 * Visibility is the lattice of docs/ir.md: `public` is the bottom, `client`
 * and `server` are incomparable, `secret` is the top (client ⊔ server = secret).
 */
export type DType = 'f32' | 'i64' | 'bool';
export const DTYPES: readonly DType[] = ['f32', 'i64', 'bool'];

export type Shape = readonly number[];

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export type Visibility = 'public' | 'client' | 'server' | 'secret';
export const VISIBILITIES: readonly Visibility[] = ['public', 'client', 'server', 'secret'];

/** Where an op runs: in plaintext at one party, at both (public data), or under MPC. */
export type Placement = 'client' | 'server' | 'both' | 'mpc';
export const PLACEMENTS: readonly Placement[] = ['client', 'server', 'both', 'mpc'];

/** Least upper bound of two visibilities. */
export function joinVisibility(a: Visibility, b: Visibility): Visibility {
  if (a === b) return a;
  if (a === 'public') return b;
  if (b === 'public') return a;
  return 'secret';
}

/** The placement a value of this visibility is computed at. */
export function placementOf(v: Visibility): Placement {
  switch (v) {
    case 'public':
      return 'both';
    case 'client':
      return 'client';
    case 'server':
      return 'server';
    case 'secret':
      return 'mpc';
  }
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function formatType(t: TensorType): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}
