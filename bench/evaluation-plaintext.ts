/**
 * The overhead of MPC against plaintext for one model: the same ONNX file run
 * by the plaintext interpreter (ir/interpret.ts) and by onnxruntime-node, best
 * of a few runs each, in the same process as the MPC run it is compared with.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../compiler/driver.ts';
import { interpret } from '../ir/interpret.ts';
import { readInputs } from '../ir/tensor-json.ts';

export interface PlaintextTimes {
  readonly interpreter_seconds: number;
  readonly onnxruntime_seconds: number;
}

const REPEATS = 3;

async function best(run: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

function ortFeeds(json: Record<string, number[][]>): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(json).map(([name, rows]) => [
      name,
      new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]),
    ]),
  );
}

export async function plaintextTimes(model: string, inputFile: string): Promise<PlaintextTimes> {
  const json = JSON.parse(readFileSync(inputFile, 'utf8')) as Record<string, number[][]>;
  const graph = loadModel(model);
  const inputs = readInputs(graph, json, inputFile);
  const interpreter = await best(() => interpret(graph, inputs));
  const session = await ort.InferenceSession.create(model);
  const feeds = ortFeeds(json);
  const onnxruntime = await best(() => session.run(feeds));
  await session.release();
  return { interpreter_seconds: interpreter, onnxruntime_seconds: onnxruntime };
}
