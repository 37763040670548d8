/** `marillc eval MODEL --input IN.json [--out OUT.json]`: the plaintext reference. */
import { interpret } from '../../../ir/interpret.ts';
import { claimedShape, readInputs, tensorToJson } from '../../../ir/tensor-json.ts';
import { loadModel } from '../../driver.ts';
import { readJsonOrFail } from '../../fs-util.ts';
import { emit, shapesFrom } from './common.ts';

export interface EvalFlags {
  shape?: string[];
  input: string;
  out?: string;
}

/** The shape each tensor of an input JSON object claims (the reader checks them against the model). */
function dataShapes(json: unknown): Record<string, number[]> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return {};
  return Object.fromEntries(Object.entries(json).map(([name, v]) => [name, claimedShape(v)]));
}

export function evalCommand(model: string, flags: EvalFlags): void {
  // The data is at hand, so a dynamic dimension takes the size it has there.
  const data = readJsonOrFail(flags.input);
  const g = loadModel(model, { shapes: shapesFrom(flags.shape), dataShapes: dataShapes(data) });
  const inputs = readInputs(g, data, flags.input);
  const outputs = interpret(g, inputs, { file: model });
  const json: Record<string, unknown> = {};
  for (const [name, t] of outputs) json[name] = tensorToJson(t);
  emit(`${JSON.stringify(json)}\n`, flags.out);
}
