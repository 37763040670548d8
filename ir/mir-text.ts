/**
 * Lexical conventions of the `.mir` text form, shared by the printer and the
 * parser so that what one writes the other reads back exactly: how names are
 * spelled (bare or quoted), and how numbers are written.
 */
import type { DType, TensorType, Visibility } from './types.ts';
import { formatType } from './types.ts';

/** A value or graph name that may be written bare after `%` / `@`. */
export const BARE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.]*$/;

/**
 * A graph output name that may be written bare in the header. It cannot start
 * with a digit (it would read as a number) nor be a number word.
 */
const BARE_OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const NUMBER_WORDS: ReadonlySet<string> = new Set(['inf', 'nan']);

/** `x` if it is a bare name, else the JSON string `"x"` (escapes as JSON). */
function bareOrQuoted(name: string, bare: RegExp): string {
  return bare.test(name) ? name : JSON.stringify(name);
}

/** `%id` or `%"id"`. */
export function formatValueName(id: string): string {
  return `%${bareOrQuoted(id, BARE_NAME)}`;
}

/** `@name` or `@"name"`. */
export function formatGraphName(name: string): string {
  return `@${bareOrQuoted(name, BARE_NAME)}`;
}

/** An output name in the graph header: bare identifier or `"quoted"`. */
export function formatOutputName(name: string): string {
  return BARE_OUTPUT_NAME.test(name) && !NUMBER_WORDS.has(name) ? name : JSON.stringify(name);
}

/** `a`, `a or b`, `a, b or c`: how messages list alternatives. */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** `client f32[1,16]`. */
export function formatVisibleType(visibility: Visibility, type: TensorType): string {
  return `${visibility} ${formatType(type)}`;
}

/** Non-finite numbers and negative zero, which `String` would lose or spell unreadably. */
function formatSpecial(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return undefined;
}

/** A double in the shortest form that reads back to the same double (`1e-12`, `0.5`, `-3`). */
export function formatNumber(x: number): string {
  return formatSpecial(x) ?? String(x);
}

/**
 * An f32 element in the shortest decimal that reads back (through Math.fround)
 * to the same f32: 0.1f prints as `0.1`, not as its exact double 0.10000000149011612.
 */
export function formatF32(x: number): string {
  const special = formatSpecial(x);
  if (special !== undefined) return special;
  const f = Math.fround(x);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return String(candidate);
  }
  // Nine significant digits always identify an f32 uniquely.
  return String(Number(f.toPrecision(9)));
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * An i64 element held as a JS number. INT64_MAX has no exact double and reads
 * as 2^63, so values are clamped to the int64 range: the printed text is the
 * integer the tensor holds.
 */
export function formatI64(x: number): string {
  const v = BigInt(x);
  return String(v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : v);
}

/**
 * Reads an i64 literal exactly. Accepts the int64 range plus 2^63, the double
 * image of INT64_MAX (see formatI64), which it maps to INT64_MAX. Returns
 * undefined for anything else (fractions, out of range, non-finite).
 */
export function parseI64(text: string): bigint | undefined {
  let v: bigint;
  if (/^-?\d+$/.test(text)) v = BigInt(text);
  else {
    const x = Number(text);
    if (!Number.isInteger(x)) return undefined;
    v = BigInt(x);
  }
  if (v === INT64_MAX + 1n) return INT64_MAX;
  return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
}

/** Reads a number literal as the lexer accepts it (`inf`, `-inf`, `nan` included). */
export function parseNumberLiteral(text: string): number {
  if (text === 'nan') return NaN;
  if (text === 'inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

/** How one element of a const of this dtype is written. */
export function formatElement(dtype: DType, x: number): string {
  switch (dtype) {
    case 'f32':
      return formatF32(x);
    case 'i64':
      return formatI64(x);
    case 'bool':
      return x ? '1' : '0';
  }
}
