/**
 * Static types for the graph inputs. Exporters leave batch and sequence
 * dimensions symbolic ('batch', 'sequence'); the IR is statically shaped, so
 * each such dimension must be fixed by the user (`--shape NAME=1x16`, i.e.
 * `shapes: { NAME: [1, 16] }`). A fixed shape must agree with every
 * dimension the model does declare.
 */
import { MarillError } from '../../ir/errors.ts';
import type { TensorType } from '../../ir/types.ts';
import type { OnnxDim, OnnxValueInfo } from './model.ts';

export function resolveInputTypes(
  inputs: readonly OnnxValueInfo[],
  shapes: Readonly<Record<string, readonly number[]>>,
  file: string,
): TensorType[] {
  const names = new Set(inputs.map((i) => i.name));
  for (const name of Object.keys(shapes))
    if (!names.has(name))
      throw new MarillError(
        `--shape names '${name}', which is not a graph input (inputs: ${[...names].join(', ') || 'none'})`,
        { file },
      );
  return inputs.map((input) => resolveInputType(input, shapes[input.name], file));
}

function resolveInputType(
  input: OnnxValueInfo,
  fixed: readonly number[] | undefined,
  file: string,
): TensorType {
  const where = { file, what: `input '${input.name}'` };
  if (!input.dtype) throw new MarillError(`element type '${input.elemType}' is not supported`, where);
  const declared = input.dims;
  if (fixed) {
    if (fixed.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new MarillError(`--shape ${input.name}=${fixed.join('x')} has an invalid dimension`, where);
    if (declared) checkAgainstDeclared(input.name, declared, fixed, where);
    return { dtype: input.dtype, shape: [...fixed] };
  }
  if (!declared)
    throw new MarillError(
      `the model does not declare its shape; give it with --shape ${input.name}=<dims>`,
      where,
    );
  const dynamic = declared.findIndex((d) => typeof d !== 'number');
  if (dynamic >= 0) {
    const d = declared[dynamic];
    const label = typeof d === 'string' ? ` ('${d}')` : '';
    throw new MarillError(
      `dimension ${dynamic}${label} is dynamic; fix it with --shape ${input.name}=${declared.map(dimHint).join('x')}`,
      where,
    );
  }
  return { dtype: input.dtype, shape: declared as number[] };
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
