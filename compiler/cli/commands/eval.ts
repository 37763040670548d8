/** `marillc eval MODEL --input IN.json [--out OUT.json]`: the plaintext reference. */
import { interpret } from '../../../ir/interpret.ts';
import { readInputs, tensorToJson } from '../../../ir/tensor-json.ts';
import { loadModel } from '../../driver.ts';
import { readJsonOrFail } from '../../fs-util.ts';
import { emit, shapesFrom } from './common.ts';

export interface EvalFlags {
  shape?: string[];
  input: string;
  out?: string;
}

export function evalCommand(model: string, flags: EvalFlags): void {
  const g = loadModel(model, { shapes: shapesFrom(flags.shape) });
  const inputs = readInputs(g, readJsonOrFail(flags.input), flags.input);
  const outputs = interpret(g, inputs, { file: model });
  const json: Record<string, unknown> = {};
  for (const [name, t] of outputs) json[name] = tensorToJson(t);
  emit(`${JSON.stringify(json)}\n`, flags.out);
}
