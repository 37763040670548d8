/**
 * Static types for the graph inputs. Exporters leave batch and sequence
 * dimensions symbolic ('batch', 'sequence'); the IR is statically shaped, so
 * each such dimension must be fixed, in this order of precedence:
 *   1. `--shape INPUT=1x16`: the whole shape of one input;
 *   2. `--shape sequence=16`: every dimension of that name, in every input;
 *   3. the shapes of the data at hand (`eval --input in.json`): what a
 *      dynamic dimension is in this run.
 * A fixed shape must agree with every dimension the model does declare. Every
 * input left with a dynamic dimension is reported in one error.
 */
import { MarillError } from '../../ir/errors.ts';
import type { TensorType } from '../../ir/types.ts';
import type { OnnxDim, OnnxValueInfo } from './model.ts';

/** `--shape` flags by input or dimension name, as parsed by compiler/cli/shape-flag.ts. */
export type ShapeFlags = Readonly<Record<string, readonly number[]>>;

export function resolveInputTypes(
  inputs: readonly OnnxValueInfo[],
  shapes: ShapeFlags,
  file: string,
  /** Shapes of the input data by input name (rule 3), used only where a dimension is still dynamic. */
  dataShapes: ShapeFlags = {},
): TensorType[] {
  const dims = dimensionFlags(inputs, shapes, file);
  const resolved = inputs.map((input) =>
    resolveInputType(input, shapes[input.name], dims, dataShapes[input.name], file),
  );
  const open = inputs.filter((_, i) => resolved[i] === undefined);
  if (open.length > 0) throw unfixedError(open, file);
  return resolved as TensorType[];
}

/** The `--shape` flags that name a dimension rather than an input, checked. */
function dimensionFlags(
  inputs: readonly OnnxValueInfo[],
  shapes: ShapeFlags,
  file: string,
): ReadonlyMap<string, number> {
  const inputNames = new Set(inputs.map((i) => i.name));
  const dimNames = new Set(inputs.flatMap((i) => (i.dims ?? []).filter((d) => typeof d === 'string')));
  const dims = new Map<string, number>();
  for (const [name, value] of Object.entries(shapes)) {
    if (inputNames.has(name)) continue;
    if (!dimNames.has(name))
      throw new MarillError(
        `--shape names '${name}', which is not a graph input (inputs: ${[...inputNames].join(', ') || 'none'}) nor a dynamic dimension (${[...dimNames].join(', ') || 'none'})`,
        { file },
      );
    if (value.length !== 1 || !Number.isSafeInteger(value[0]) || value[0]! < 0)
      throw new MarillError(
        `--shape ${name}=${value.join('x')}: a dimension takes one size, e.g. ${name}=16`,
        {
          file,
        },
      );
    dims.set(name, value[0]!);
  }
  return dims;
}

/** The input's type, or undefined while a dimension is still dynamic. */
function resolveInputType(
  input: OnnxValueInfo,
  fixed: readonly number[] | undefined,
  dims: ReadonlyMap<string, number>,
  data: readonly number[] | undefined,
  file: string,
): TensorType | undefined {
  const where = { file, what: `input '${input.name}'` };
  if (!input.dtype) throw new MarillError(`element type '${input.elemType}' is not supported`, where);
  const declared = input.dims;
  if (fixed) {
    if (fixed.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new MarillError(`--shape ${input.name}=${fixed.join('x')} has an invalid dimension`, where);
    if (declared) checkAgainstDeclared(input.name, declared, fixed, where);
    return { dtype: input.dtype, shape: [...fixed] };
  }
  if (!declared) return data ? { dtype: input.dtype, shape: [...data] } : undefined;
  const byName = declared.map((d) => (typeof d === 'string' ? (dims.get(d) ?? d) : d));
  // The data fills the dimensions still dynamic; its other dimensions are left
  // for the input reader to check against the model's (a clearer message there).
  const filled =
    data && data.length === byName.length
      ? byName.map((d, i) => (typeof d === 'number' ? d : data[i]!))
      : byName;
  if (filled.some((d) => typeof d !== 'number')) return undefined;
  return { dtype: input.dtype, shape: filled as number[] };
}

function unfixedError(open: readonly OnnxValueInfo[], file: string): MarillError {
  const names = [...new Set(open.flatMap((i) => (i.dims ?? []).filter((d) => typeof d === 'string')))];
  const byInput = open.map((i) => `--shape ${i.name}=${i.dims ? i.dims.map(dimHint).join('x') : '<dims>'}`);
  const byDim = names.map((d) => `--shape ${d}=<size>`);
  const fixes =
    byDim.length > 0
      ? `${byDim.join(' ')} (by dimension) or ${byInput.join(' ')} (by input)`
      : byInput.join(' ');
  if (open.length === 1) {
    const input = open[0]!;
    const where = { file, what: `input '${input.name}'` };
    if (!input.dims)
      return new MarillError(
        `the model does not declare its shape; give it with --shape ${input.name}=<dims>`,
        where,
      );
    const dynamic = input.dims.findIndex((d) => typeof d !== 'number');
    const d = input.dims[dynamic];
    const label = typeof d === 'string' ? ` ('${d}')` : '';
    return new MarillError(`dimension ${dynamic}${label} is dynamic; fix it with ${fixes}`, where);
  }
  const list = open.map(
    (i) => `'${i.name}' ${i.dims ? `[${i.dims.map(dimHint).join(',')}]` : '(no declared shape)'}`,
  );
  return new MarillError(
    `${open.length} inputs have dynamic dimensions: ${list.join(', ')}; fix them with ${fixes}`,
    {
      file,
    },
  );
}

function checkAgainstDeclared(
  name: string,
  declared: readonly OnnxDim[],
  fixed: readonly number[],
  where: { file: string; what: string },
): void {
  if (declared.length !== fixed.length)
    throw new MarillError(
      `--shape ${name}=${fixed.join('x')} has rank ${fixed.length}; the model declares rank ${declared.length} [${declared.map(dimHint).join(',')}]`,
      where,
    );
  declared.forEach((d, i) => {
    if (typeof d === 'number' && d !== fixed[i])
      throw new MarillError(
        `--shape ${name}=${fixed.join('x')}: dimension ${i} is fixed to ${d} by the model`,
        where,
      );
  });
}

function dimHint(d: OnnxDim): string {
  return typeof d === 'number' ? String(d) : `<${d ?? '?'}>`;
}
