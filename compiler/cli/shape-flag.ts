/**
 * `--shape NAME=DxD` parsing, in a module of its own: the command helpers
 * need it, and importing it from driver.ts would load the whole front end
 * (the .mir parser and its chevrotain/lodash-es modules, over a second of
 * start-up under tsx) into every `marillc run` and `--help`.
 */
import { MarillError } from '../../ir/errors.ts';

/** Parses `NAME=1x16` into [name, dims]; NAME is an input, or a dimension name with one size (`sequence=16`). */
export function parseShapeFlag(flag: string): [string, number[]] {
  const m = /^(.+)=(\d+(?:x\d+)*)$/.exec(flag);
  if (!m)
    throw new MarillError(
      `--shape expects INPUT=DxDx... or DIMENSION=D, e.g. input_ids=1x16 or sequence=16; got '${flag}'`,
    );
  return [m[1]!, m[2]!.split('x').map(Number)];
}
